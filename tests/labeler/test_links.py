"""Secret links as printed: the port a link names, and the host forms."""

import pytest

from prefstudy.labeler.guards import host_name, is_loopback
from prefstudy.labeler.server import link
from prefstudy.subjects.roster import add_subject

pytestmark = pytest.mark.usefixtures("shared_instance")  # each test's study stays open: see tests/conftest.py


@pytest.mark.parametrize("port", ["0", "-1", "65536"])
def test_links_refuse_a_port_no_server_listens_on(ws, cli, port):
    add_subject(ws, "ann")
    result = cli("label", "links", "--port", port, ok=False)
    assert result.exit_code == 2 and "Traceback" not in result.output  # a usage error, like every bounded option
    assert f"Invalid value for '--port': must be an integer from 1 to 65535, got {port}" in result.stderr
    with ws.connect() as con:
        assert con.execute("SELECT count(*) FROM label_links").fetchone() == (0,)  # no link was made


def test_a_link_names_the_host_the_way_a_browser_reaches_it(monkeypatch):
    monkeypatch.setattr("socket.gethostname", lambda: "labhost")
    assert link("127.0.0.1", 8765, "T") == "http://localhost:8765/s/T"
    assert link("::1", 8765, "T") == "http://localhost:8765/s/T"
    assert link("0.0.0.0", 8765, "T") == "http://labhost:8765/s/T"
    assert link("192.168.1.5", 9000, "T") == "http://192.168.1.5:9000/s/T"
    assert link("fe80::1", 9000, "T") == "http://[fe80::1]:9000/s/T"
    assert is_loopback("localhost") and is_loopback("127.0.0.2") and not is_loopback("0.0.0.0")
    assert [host_name(h) for h in ("Localhost:80", "[::1]:8765", "[::1]", "a:b:c", "[::1]:x")] == [
        "localhost",
        "[::1]",
        "[::1]",
        None,
        None,
    ]
