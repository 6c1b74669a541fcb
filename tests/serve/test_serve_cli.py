"""`patlink serve` and `patlink review` on the command line: usage errors exit 2 with one line, the real server
answers over TCP on 127.0.0.1, decisions list and export."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from patlink.cli.main import main
from patlink.cli.serve_cmd import is_loopback
from patlink.review import DecisionStore


def test_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("::")


@pytest.mark.parametrize("args, message", [
    ([], "give --index IDX"),
    (["--dataset", "pap2pat", "--host", "0.0.0.0"], "set a token"),
    (["--dataset", "pap2pat", "--token", "short"], "at least 8"),
    (["--index", "no/such/index"], "no/such/index"),
])
def test_serve_usage_errors(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("PATLINK_TOKEN", raising=False)
    assert main(["serve", "--db", str(tmp_path / "d.sqlite"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_serve_refuses_a_reverse_index(tmp_path, capsys):
    assert main(["index", "dataset:pap2pat", "--reverse", "--method", "bm25", "--out", str(tmp_path / "rev")]) == 0
    capsys.readouterr()
    assert main(["serve", "--index", str(tmp_path / "rev"), "--db", str(tmp_path / "d.sqlite")]) == 2
    assert "serve an index of patents" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_server_with_token_over_tcp(tmp_path):
    """`patlink serve --index` as its own process: health open, API behind the token, known items of the dataset
    the index was built from, decisions written to --db; the process stops on SIGTERM."""
    idx, db = tmp_path / "idx", tmp_path / "d.sqlite"
    assert main(["index", "dataset:pap2pat", "--method", "bm25", "--out", str(idx)]) == 0
    port, token = _free_port(), "s3cret-token-123"
    env = {**os.environ, "PATLINK_TOKEN": token, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "patlink.cli.main", "serve", "--index", str(idx), "--db", str(db),
                             "--port", str(port), "--log-level", "warning"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail(f"server did not start: {proc.stderr.read1().decode() if proc.poll() is not None else ''}")
        assert httpx.get(f"{base}/api/info").status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        info = httpx.get(f"{base}/api/info", headers=auth).json()
        assert info["documents"] == 1513 and info["known_items"] == 1513 and info["method"] == "bm25"
        item = httpx.get(f"{base}/api/items", params={"limit": 1}, headers=auth).json()["items"][0]["id"]
        cand = httpx.post(f"{base}/api/candidates", json={"item_id": item, "top_k": 3}, headers=auth).json()
        top = cand["candidates"][0]
        r = httpx.post(f"{base}/api/decisions", headers={**auth, "X-Patlink-Reviewer": "lee"},
                       json={"item_id": item, "patent_id": top["id"], "decision": "accept"})
        assert r.status_code == 201 and r.json()["reviewer"] == "lee"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    [d] = DecisionStore(db, read_only=True).decisions()
    assert (d.item_id, d.patent_id, d.decision, d.method) == (item, top["id"], "accept", "bm25")


def test_review_list_and_export(tmp_path, capsys):
    db = tmp_path / "d.sqlite"
    st = DecisionStore(db)
    st.record("p1", "US1", "accept", reviewer="ana", item_text="a sensor")
    st.record("p1", "US2", "reject", note="=cmd|' /C calc'!A0", item_text="a sensor")
    st.record("p2", "US1", "unsure", item_text="a valve")
    assert main(["review", "list", "--db", str(db), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"] == {"accept": 1, "reject": 1, "unsure": 1} and out["total"] == 3
    assert main(["review", "export", "--db", str(db), "--out", str(tmp_path / "d.csv")]) == 0
    text = (tmp_path / "d.csv").read_text()
    assert "'=cmd|" in text and ",=cmd" not in text
    # a BEIR export needs the patents' texts
    capsys.readouterr()
    assert main(["review", "export", "--db", str(db), "--out", str(tmp_path / "beir")]) == 2
    assert "needs the patents' texts" in capsys.readouterr().err
    assert main(["review", "export", "--db", str(tmp_path / "none.sqlite"), "--out", str(tmp_path / "x.csv")]) == 2
    assert main(["review", "export", "--db", str(db), "--out", str(tmp_path / "x.xlsx")]) == 2


def test_serve_items_and_links_files_replace_the_datasets(tmp_path, monkeypatch):
    """--items / --links replace the known items and links of the dataset the index was built from."""
    import uvicorn

    idx = tmp_path / "idx"
    assert main(["index", "dataset:pap2pat", "--method", "bm25", "--out", str(idx)]) == 0
    (tmp_path / "items.csv").write_text("id,name,description\np1,Solar panel,an etched multicrystalline solar cell\n")
    (tmp_path / "links.csv").write_text("item_id,patent_id\np1,US20110277824\n")
    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    assert main(["serve", "--index", str(idx), "--db", str(tmp_path / "d.sqlite"), "--items",
                 str(tmp_path / "items.csv"), "--links", str(tmp_path / "links.csv"), "--port", "8123"]) == 0
    svc = served["app"].state.service
    assert served["port"] == 8123 and served["host"] == "127.0.0.1"
    assert list(svc.items) == ["p1"] and svc.items["p1"]["name"] == "Solar panel"
    assert svc.links == [("p1", "US20110277824")]
    assert svc.patent_metadata["US20110277824"]["date"]          # metadata still from the dataset
