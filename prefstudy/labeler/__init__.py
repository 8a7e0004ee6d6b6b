"""The labelling web app: a FastAPI server and a static page, behind one secret link per subject (and, for
online studies, one public join link where participants enrol themselves).

Where it listens by default is named here, so the command line can show it without importing
the server.
"""

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8765  # fixed, so that links stay valid across restarts
