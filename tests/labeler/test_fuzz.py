"""The labelling API fuzzed from its own OpenAPI schema (Schemathesis, in-process, against the real app):
no request gets a 500, and a refused request writes nothing."""

from __future__ import annotations

import pytest
from conftest import copy_study
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from prefstudy.labeler.app import create_app
from prefstudy.labeler.links import link_token, new_session
from prefstudy.labeler.options import LabelOptions
from prefstudy.subjects.roster import add_subject

N_ITEMS = 10_000  # the sample dataset's images
EXAMPLES = 10  # per operation and mode: 7 operations x 2 modes
FUZZ = settings(
    max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck)
)


@pytest.mark.slow  # ~150 requests through the app, with a database read around each
def test_the_api_never_answers_500_and_a_refused_request_writes_nothing(_sample_study, tmp_path):
    import schemathesis  # here, not at the top: importing it costs a second of every test run's collection
    from schemathesis import GenerationMode

    ws = copy_study(_sample_study, tmp_path / "study")
    for name in ("ann", "ben"):
        add_subject(ws, name)
    tokens = {link_token(ws, name): name for name in ("ann", "ben")}
    ann = next(t for t, name in tokens.items() if name == "ann")
    app = create_app(ws, "fm", tokens, LabelOptions(repeat=0.2), loopback_only=True)
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /api/{token}/trial", "POST /api/{token}/region"}
    seen: dict[int, int] = {}
    # One valid answer first: the store is live, so "a refused request writes nothing" is checked against it.
    from fastapi.testclient import TestClient

    first = {"session": new_session(ann), "trial": 1, "block": 1, "item": 0, "answer": "preferred", "rt_ms": 500}
    assert TestClient(app).post(f"/api/{ann}/trial", json=first, headers={"Host": "localhost"}).status_code == 200

    # Held open, so that each app connection reuses the opened database (opening it costs more than a request).
    with ws.connect() as con:

        def rows() -> list[tuple]:
            return con.execute("SELECT * FROM labels ORDER BY id").fetchall()

        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @FUZZ
                @given(case=operation.as_strategy(mode, path_parameters={"token": ann}), signed=st.booleans())
                def one_request(case, signed):
                    if signed and isinstance(case.body, dict) and isinstance(case.body.get("session"), str):
                        case.body["session"] = new_session(ann)  # past the session check, into the store
                        item = case.body.get("item")
                        if isinstance(item, int) and not isinstance(item, bool) and item >= 0:
                            case.body["item"] = item % N_ITEMS  # an image of the dataset: into the plan's checks
                    before = rows()
                    response = case.call(headers={"Host": "localhost"})
                    assert response.status_code < 500, (case.as_curl_command(), response.text)
                    seen[response.status_code] = seen.get(response.status_code, 0) + 1
                    if response.status_code >= 400:
                        assert rows() == before, case.as_curl_command()

                try:
                    one_request()
                except Unsatisfiable:  # nothing left to get wrong: the token is the only parameter, and it is fixed
                    assert mode is GenerationMode.NEGATIVE and operation.method == "get", operation.label
        stored = len(rows())
    print(f"\nstatus: count {dict(sorted(seen.items()))}; trials stored {stored}")
    # The fuzz reached the store (so "nothing written" was checked against a live one) and was refused in each way.
    assert stored > 0 and {403, 404, 422} <= set(seen), seen
