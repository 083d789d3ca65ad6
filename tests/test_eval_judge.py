"""The judge: MT-Bench verdict parsing, both orders in pairwise mode, and the OpenAI-compatible HTTP path
against a local stdlib server (no network)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from llmkit.config import build_config
from llmkit.config.eval import EvalConfig
from llmkit.errors import LlmkitError
from llmkit.eval.judge import combine_orders, parse_rating, parse_verdict
from llmkit.workflows import evaluate


@pytest.mark.parametrize("reply, rating", [
    ("The answer is correct and clear. Rating: [[8]]", 8.0),
    ("Rating: [[7.5]]", 7.5),
    ("I would give it [6].", 6.0),  # MT-Bench's fallback form
    ("Rating: [[11]]", None),  # out of range
    ("Rating: [[0]]", None),
    ("A fine answer, eight out of ten.", None),
    ("", None),
])
def test_parse_rating(reply, rating):
    assert parse_rating(reply) == rating


def test_parse_verdict_and_both_orders():
    assert parse_verdict("... so [[A]]") == "A" and parse_verdict("[[C]]") == "tie"
    assert parse_verdict("no verdict") is None and parse_verdict("[[A]] or maybe [[B]]") is None
    assert combine_orders("A", "B") == "win"  # model first wins, model second wins
    assert combine_orders("B", "A") == "loss"
    assert combine_orders("A", "A") == "tie"  # the judge always picks the first answer: position bias, a tie
    assert combine_orders("tie", "tie") == "tie" and combine_orders("A", None) is None


class FakeOpenAI(BaseHTTPRequestHandler):
    """/v1/chat/completions: rates by the question, always prefers the first answer when comparing."""

    requests: list = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        prompt = body["messages"][-1]["content"]
        if "Assistant A" in prompt:
            content = "Both are short. [[A]]"
        elif "unparseable" in prompt:
            content = "I cannot decide on a number."
        else:
            content = "Short but relevant. Rating: [[7]]"
        reply = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture
def openai_server():
    server = HTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeOpenAI.requests = []
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def open_items(tmp_path):
    rows = [{"id": f"o{i}", "category": "chat", "type": "open", "question": q, "reference": "ok"}
            for i, q in enumerate(["你好吗？", "Say hello.", "an unparseable one"])]
    path = tmp_path / "open.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return str(path)


def config(tiny_base, data, output, **judge):
    return build_config(EvalConfig, {"model": {"path": str(tiny_base)}, "output": str(output),
                                     "benchmark": {"sources": [data]}, "generation": {"max_new_tokens": 4},
                                     "judge": judge})


def test_single_grading_over_http(tiny_base, tmp_path, openai_server, monkeypatch):
    monkeypatch.setenv("JUDGE_KEY", "sk-test")
    out = tmp_path / "run"
    result = evaluate.run(config(tiny_base, open_items(tmp_path), out, kind="http", url=openai_server,
                                 model="judge-1", api_key_env="JUDGE_KEY"))
    assert len(FakeOpenAI.requests) == 3
    first = FakeOpenAI.requests[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer sk-test"
    assert first["body"]["model"] == "judge-1" and "[[rating]]" in first["body"]["messages"][1]["content"]
    judge = result["results"]["judge"]
    assert judge["judged"] == 2 and judge["parse_failures"] == 1  # counted, not scored
    assert result["results"]["tracks"]["open_judge"] == 70.0  # mean of the two parsed ratings x 10
    ratings = {r["question"]: r["judge"]["rating"] for r in result["records"]}
    assert ratings["an unparseable one"] is None and ratings["你好吗？"] == 7.0
    assert "sk-test" not in (out / "llmkit_run.json").read_text()  # the key is never written


def test_pairwise_asks_both_orders_and_counts_disagreement_as_tie(tiny_base, tmp_path, openai_server):
    data = open_items(tmp_path)
    baseline = tmp_path / "baseline"  # an earlier run's predictions, as `llmkit eval` writes them
    baseline.mkdir()
    (baseline / "predictions.jsonl").write_text("".join(
        json.dumps({"id": f"o{i}", "category": "chat", "type": "open", "answer": "BASELINE ANSWER"}) + "\n"
        for i in range(3)))
    result = evaluate.run(config(tiny_base, data, tmp_path / "run", kind="http", url=openai_server, model="j",
                                 mode="pairwise", baseline=str(baseline)))
    assert len(FakeOpenAI.requests) == 6  # each item twice, answers swapped
    prompts = [r["body"]["messages"][-1]["content"] for r in FakeOpenAI.requests]
    a_answer = "[The Start of Assistant A's Answer]\nBASELINE ANSWER"
    assert a_answer not in prompts[0] and a_answer in prompts[3]  # the baseline first, then second
    judge = result["results"]["judge"]
    assert judge["ties"] == 3 and judge["wins"] == 0 and judge["losses"] == 0  # always "[[A]]": disagreement
    assert result["results"]["tracks"]["open_judge"] == 50.0


def test_unreachable_endpoint_is_counted_as_failures(tiny_base, tmp_path):
    result = evaluate.run(config(tiny_base, open_items(tmp_path), tmp_path / "run", kind="http",
                                 url="http://127.0.0.1:9/v1", model="j"))
    assert result["results"]["judge"]["parse_failures"] == 3
    assert "open_judge" not in result["results"]["tracks"]


def test_local_judge_model(tiny_base, tmp_path):
    # A tiny random judge writes no "[[rating]]": every verdict is a counted failure, none is scored.
    result = evaluate.run(config(tiny_base, open_items(tmp_path), tmp_path / "run", kind="local",
                                 model=str(tiny_base), max_new_tokens=6))
    judged = [r["judge"] for r in result["records"]]
    assert all(j["rating"] is None and isinstance(j["replies"][0], str) for j in judged)
    assert result["results"]["judge"]["parse_failures"] == 3


def test_pairwise_against_a_baseline_model_that_answers_first(tiny_base, family_base, tmp_path, openai_server):
    result = evaluate.run(config(tiny_base, open_items(tmp_path), tmp_path / "run", kind="http", url=openai_server,
                                 model="j", mode="pairwise", baseline=str(family_base("gpt2"))))
    assert len(FakeOpenAI.requests) == 6 and result["results"]["judge"]["ties"] == 3
    assert all(isinstance(r["judge"]["baseline_answer"], str) for r in result["records"])


def test_pairwise_baseline_must_be_a_run_or_a_model(tiny_base, tmp_path):
    with pytest.raises(LlmkitError, match="neither an `llmkit eval` run folder"):
        evaluate.run(config(tiny_base, open_items(tmp_path), tmp_path / "run", kind="http", url="http://x/v1",
                            model="j", mode="pairwise", baseline=str(tmp_path)))
    assert not (tmp_path / "run").exists()
