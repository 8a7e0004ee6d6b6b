"""prefstudy — personal visual preference studies with many subjects.

Label images, learn one model per subject, transfer across domains, explain with Grad-CAM,
and report across subjects. The command-line tool is ``prefstudy``; see README.md.
"""

__version__ = "0.1.0"
