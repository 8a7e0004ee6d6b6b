"""Subjects: people who label images, and simulated subjects whose preference rule is known."""
