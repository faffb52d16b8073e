"""A run as a printable HTML page (``GET /sandbox/runs/{id}/report.html``, ``nsp-sandbox check --html FILE``):
the summary (suite, target, verdict, counts), then each case with its verdict, message, the instructions
the participant was given, notes and its evidence — every HTTP exchange with headers and bodies, folded
(``<details>``, no script) and escaped. The page's one inline stylesheet is allowed by its hash and nothing
else is (:data:`REPORT_POLICY`), like the landing page.
"""

from __future__ import annotations

import base64
import hashlib
import json
from html import escape
from typing import Any

from nsp_sandbox import __version__

STYLE = ("body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#222}"
         "h1{margin-bottom:.2rem}table{border-collapse:collapse}"
         "td,th{padding:.3rem .7rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}"
         ".verdict{font-weight:bold;padding:.1rem .5rem;border-radius:.3rem;border:1px solid}"
         ".passed{color:#14532d;background:#dcfce7}.failed{color:#7f1d1d;background:#fee2e2}"
         ".skipped,.pending{color:#444;background:#eee}.running{color:#1e3a8a;background:#dbeafe}"
         "section.case{border:1px solid #ccc;border-radius:.4rem;padding:.4rem 1rem;margin:1rem 0}"
         "section.case h2{font-size:1.1rem}pre{white-space:pre-wrap;word-break:break-all;background:#f6f6f6;"
         "padding:.5rem;max-height:30rem;overflow:auto}summary{cursor:pointer}"
         "details.exchange{margin:.3rem 0 .3rem 1.2rem}caption{text-align:left;font-weight:bold}"
         ".instruction{border-left:4px solid #1e3a8a;padding-left:.6rem}"
         "@media print{pre{max-height:none}section.case{break-inside:avoid-page}}")
REPORT_POLICY = ("default-src 'none'; style-src 'sha256-"
                 + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
                 + "'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def _verdict(status: str) -> str:
    return f'<span class="verdict {escape(status)}">{escape(status)}</span>'


def _headers(headers: dict[str, str]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in headers.items())


def _body(text: str) -> str:
    """A body for reading: JSON indented (and said so), anything else as it came; escaped either way."""
    if not text:
        return "(no body)"
    try:
        shown = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return escape(text)
    return escape(shown) if shown == text else f"{escape(shown)}\n\n(JSON, indented here for reading)"


def _exchange(index: int, exchange: dict[str, Any]) -> str:
    answer = exchange.get("response")
    outcome = f"HTTP {answer['status']}" if answer else f"no answer: {exchange.get('error')}"
    request = exchange["request"]
    parts = [f"<details class=\"exchange\"><summary>{index}. {escape(exchange['method'])} "
             f"{escape(exchange['url'])} → {escape(outcome)} ({exchange['duration_ms']} ms)</summary>",
             f"<p>Sent {escape(exchange['at'])}</p><h3>Request</h3><pre>{escape(_headers(request['headers']))}</pre>",
             f"<pre class=\"body\">{_body(request['body'])}</pre>"]
    if answer:
        parts += [f"<h3>Response</h3><pre>HTTP {answer['status']}\n{escape(_headers(answer['headers']))}</pre>",
                  f"<pre class=\"body\">{_body(answer['body'])}</pre>"]
    return "".join(parts) + "</details>"


def _case(case: dict[str, Any]) -> str:
    name = escape(case["name"])
    parts = [f'<section class="case {escape(case["status"])}" id="case-{name}" data-status="{escape(case["status"])}">',
             f"<h2>{_verdict(case['status'])} <code>{name}</code> {escape(case['title'])}</h2>"]
    if case.get("reference"):
        parts.append(f"<p>Requirement: {escape(case['reference'])}</p>")
    if case["message"]:
        parts.append(f'<p class="message">{escape(case["message"])}</p>')
    parts += [f'<p class="instruction">Instruction: {escape(text)}</p>' for text in case.get("instructions", [])]
    parts += [f"<p>Note: {escape(text)}</p>" for text in case.get("notes", [])]
    evidence = case.get("evidence", [])
    parts.append(f'<details class="evidence"><summary>Evidence: {len(evidence)} HTTP exchange'
                 f"{'' if len(evidence) == 1 else 's'} ({case['duration_ms']} ms, started {escape(case['started'])})"
                 "</summary>" + "".join(_exchange(i, e) for i, e in enumerate(evidence, 1))
                 + ("" if evidence else "<p>No HTTP exchange.</p>") + "</details>")
    return "".join(parts) + "</section>"


def _summary(run: dict[str, Any]) -> str:
    tally = run["counts"]
    rows = [("Suite", f"<code>{escape(run['suite'])}</code> {escape(run['title'])}"),
            ("Target", f"<code>{escape(run['target'])}</code> ({escape(run['target_kind'])})"),
            ("Verdict", _verdict(run["status"])), ("Started", escape(run["started"])),
            ("Finished", escape(run["finished"] or "—")), ("Run", f"<code>{escape(run['id'])}</code>")]
    if run["options"]:
        rows.append(("Options", f"<code>{escape(json.dumps(run['options'], ensure_ascii=False))}</code>"))
    table = "".join(f"<tr><th scope=\"row\">{k}</th><td>{v}</td></tr>" for k, v in rows)
    spans = " · ".join(f'<span class="count" data-count="{k}">{tally[k]} {k}</span>'
                       for k in ("passed", "failed", "skipped", "pending"))
    return (f"<table class=\"summary\"><caption>Summary</caption>{table}</table>"
            f'<p class="counts">{tally["total"]} cases: {spans}</p>')


def report_html(run: dict[str, Any]) -> str:
    """The run (its JSON, :func:`sandbox.runs.report_json.run_json`) as a whole HTML page."""
    parts = [_summary(run)]
    if run["message"]:
        parts.append(f'<p class="message">{escape(run["message"])}</p>')
    if run.get("next_instruction"):
        parts.append(f'<p class="instruction">Now: {escape(run["next_instruction"]["text"])}</p>')
    parts += [_case(case) for case in run["cases"]]
    if run["pending"]:
        label = "Still to run" if run["status"] == "running" else "Not run"
        items = "".join(f"<li><code>{escape(c['name'])}</code> {escape(c['title'])}</li>" for c in run["pending"])
        parts.append(f'<section class="pending"><h2>{label}</h2><ul>{items}</ul></section>')
    return (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(run['suite'])} against {escape(run['target'])}: {escape(run['status'])}</title>"
            + ('<meta http-equiv="refresh" content="5">' if run["status"] == "running" else "")
            + f"<style>{STYLE}</style></head><body><main>"
            f"<h1>Conformance run: {escape(run['title'])}</h1>" + "\n".join(parts)
            + f"<footer><p>nsp-sandbox {escape(__version__)} · docs/runs.md</p></footer></main></body></html>\n")
