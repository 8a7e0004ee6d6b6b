"""The labelling app: a subject answers preferred / not preferred per image, under a deadline, in blocks."""
