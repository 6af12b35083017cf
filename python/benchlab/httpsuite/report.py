"""report.md of a backend run: backends side by side per scenario, ratios against the first
backend, the sustainable rates when searched, and the seed lab's published ratios beside
the ones measured here."""

from __future__ import annotations

from typing import Any

from benchlab.httpsuite.figures import ratio

# The seed lab's published results (SPEC.md section 9): (scenario stem, numerator backend,
# denominator backend, figure, published, what it says)
PUBLISHED = (
    (
        "01-lightweight",
        "fastapi_pragmatic",
        "django_drf",
        "rps",
        "7-9x",
        "FastAPI vs Django, lightweight",
    ),
    (
        "04-db-write",
        "django_drf",
        "fastapi_pragmatic",
        "rps",
        "1.6x",
        "Django vs FastAPI, DB write",
    ),
    (
        "08-concurrent-mixed",
        "fastapi_pragmatic",
        "django_drf",
        "rps",
        "1.4x",
        "FastAPI vs Django, mixed",
    ),
    (
        "01-lightweight",
        "fastapi_pragmatic",
        "fastapi_strict",
        "rps",
        "1.10-1.17x",
        "pragmatic vs strict FastAPI, lightweight (strict costs 10-17 %)",
    ),
)
PUBLISHED_PAGINATION = ("09-db-pagination", "1.7x (60 vs 34 ms)")


def fmt(v: float | None, digits: int = 1) -> str:
    if v is None:
        return "n/a"
    return f"{v:,.{digits}f}"


def fmt_ratio(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}x"


def _mib(v: float | None) -> str:
    return "n/a" if v is None else f"{v / 1048576:,.0f}"


def _by(doc: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(m["scenario"], m["variant"], m["backend"]): m for m in doc["measurements"]}


def _search_rates(doc: dict[str, Any]) -> dict[tuple[str, str], float | None]:
    return {(s["scenario"], s["backend"]): s["sustainable_rate"] for s in doc.get("searches", [])}


def _rps_pair(
    doc: dict[str, Any], scenario_id: str, a: str, b: str
) -> tuple[float | None, float | None, str]:
    """The rps of two backends compared: their sustainable rates when both were searched,
    else both ok/s at the scenario's offered rate (never one of each)."""
    searched = _search_rates(doc)
    if (scenario_id, a) in searched and (scenario_id, b) in searched:
        return searched[(scenario_id, a)], searched[(scenario_id, b)], "sustainable rate"
    sc = next((s for s in doc["scenarios"] if s["id"] == scenario_id), None)
    variant = sc["variants"][0] if sc else "main"
    by = _by(doc)
    values = []
    for name in (a, b):
        m = by.get((scenario_id, variant, name))
        values.append(m["figures"]["throughput_per_s"] if m and "figures" in m else None)
    return values[0], values[1], "ok/s at the offered rate"


def _p95(m: dict[str, Any] | None) -> float | None:
    if not m or "figures" not in m:
        return None
    return m["figures"]["latency_ms"]["p95"]


INTRO = (
    "Load: {tool}, open model (constant arrival rate: requests are due on a fixed schedule "
    "whether or not earlier ones were answered). Latency is given from the moment each request "
    "was sent (vegeta's) and from the moment it was due (the coordinated-omission-free figure "
    "the criteria judge); a request sent more than 10 ms after it was due is late, one never "
    "sent in the window is dropped. Each backend is warmed up, then measured alone; the others "
    "are idle.\n"
)
TABLE_HEAD = (
    "| backend | ok/s | p50 ms | p95 ms | p99 ms | max ms | p99 from schedule ms | failed "
    "| dropped | late | CPU cores (% of limit) | throttled | memory peak MiB | DB CPU cores "
    "| verdict |"
)
EMPTY_CELLS = " |" * 13


def _limits(services: dict[str, Any], name: str) -> str:
    s = services.get(name, {})
    return f"{name} ({fmt(s.get('cpu_limit'), 2)} CPU, {_mib(s.get('memory_limit_bytes'))} MiB)"


def _header(doc: dict[str, Any]) -> list[str]:
    tool = doc.get("load_tool", {})
    out = [
        f"# Backend suite `{doc['suite']}`: run {doc['run_id']}\n",
        INTRO.format(tool=f"{tool.get('name')} {tool.get('version')}"),
        f"Inventory `{doc.get('inventory')}`; started {doc.get('started')}, "
        f"ended {doc.get('ended')}.\n",
    ]
    facts = doc.get("host_facts") or {}
    if facts:
        hosts = [
            f"{h} ({f.get('cores')} cores, {fmt(f.get('memory_mb'), 0)} MiB)"
            for h, f in facts.items()
        ]
        out.append("Hosts: " + "; ".join(hosts) + ".\n")
    out.append("| backend | style | server | workers | DB pool / worker | services (limits) |")
    out.append("|---|---|---|---:|---:|---|")
    services = doc.get("services") or {}
    for b in doc["backends"]:
        limits = ", ".join(_limits(services, s) for s in b.get("services") or []) or "n/a"
        out.append(
            f"| {b['name']} | {b['type']} | {b.get('server') or 'n/a'} "
            f"| {b.get('workers') or 'n/a'} | {b.get('pool_size') or 'n/a'} | {limits} |"
        )
    mine = {s for b in doc["backends"] for s in b.get("services") or []}
    db = [s for s in services if s not in mine]
    if db:
        out.append("\nDatabase: " + ", ".join(_limits(services, s) for s in db) + ".")
    out.append("")
    return out


def _row(name: str, m: dict[str, Any] | None) -> str:
    if m is None:
        return f"| {name} | not implemented |" + EMPTY_CELLS
    if "error" in m:
        return f"| {name} | failed: {m['error'][:120]} |" + EMPTY_CELLS
    f = m["figures"]
    lat, sched = f["latency_ms"], f["latency_from_schedule_ms"]
    res = m.get("resources") or {}
    mine = next((res[s] for s in res if s.startswith("backend")), {})
    dbres = next((res[s] for s in res if not s.startswith("backend")), {})
    codes = ", ".join(f"{k}: {v}" for k, v in f["status_codes"].items() if not k.startswith("2"))
    failed = f"{f['failed']}{' (' + codes + ')' if codes else ''}"
    throttled = mine.get("throttled_ratio_mean")
    cpu = f"{fmt(mine.get('cpu_cores_mean'), 2)} ({fmt(mine.get('cpu_pct_of_limit_mean'), 0)} %)"
    cells = [
        name,
        fmt(f["throughput_per_s"]),
        fmt(lat["p50"], 2),
        fmt(lat["p95"], 2),
        fmt(lat["p99"], 2),
        fmt(lat["max"], 1),
        fmt(sched["p99"], 2),
        failed,
        str(f["dropped"]),
        str(f["late"]),
        cpu,
        f"{fmt(None if throttled is None else throttled * 100, 0)} %",
        _mib(mine.get("memory_working_set_bytes_peak")),
        fmt(dbres.get("cpu_cores_mean"), 2),
        str(m.get("verdict", "n/a")),
    ]
    return "| " + " | ".join(cells) + " |"


def _ratios(by: dict, sid: str, variant: str, backends: list[str]) -> list[str]:
    base = backends[0]
    base_m = by.get((sid, variant, base))
    if not base_m or "figures" not in base_m:
        return []
    rows = []
    for name in backends[1:]:
        m = by.get((sid, variant, name))
        if not m or "figures" not in m:
            continue
        rps = ratio(m["figures"]["throughput_per_s"], base_m["figures"]["throughput_per_s"])
        rows.append(f"| {name} | {fmt_ratio(rps)} | {fmt_ratio(ratio(_p95(m), _p95(base_m)))} |")
    if not rows:
        return []
    return [
        f"\nAgainst {base}:\n",
        f"| backend | ok/s, it / {base} | p95, it / {base} (> 1: slower) |",
        "|---|---:|---:|",
        *rows,
    ]


def _scenario(sc: dict[str, Any], by: dict, backends: list[str]) -> list[str]:
    out = [f"## {sc['id']}\n"]
    if sc.get("description"):
        out.append(sc["description"].strip() + "\n")
    crit = sc.get("criteria") or {}
    out.append(
        f"Offered {fmt(sc['rate'], 0)} requests/s for {fmt(sc['duration_s'], 0)} s after a "
        f"{fmt(sc['warmup_s'], 0)} s warm-up. Criteria: success "
        f"> {fmt((crit.get('min_success_rate') or 0) * 100, 1)} %, p99 from schedule "
        f"< {fmt(crit.get('max_p99_ms'), 0)} ms.\n"
    )
    for variant in sc["variants"]:
        if len(sc["variants"]) > 1:
            out.append(f"### {variant}\n")
        out.append(TABLE_HEAD)
        out.append("|---|" + "---:|" * 13 + "---|")
        out += [_row(name, by.get((sc["id"], variant, name))) for name in backends]
        out += _ratios(by, sc["id"], variant, backends)
        out.append("")
    if sc.get("compare"):
        a, b = sc["compare"]
        out.append(f"{b} against {a} at p95 ({a} / {b}: > 1 means {b} is faster):\n")
        out.append(f"| backend | {a} p95 ms | {b} p95 ms | {a} / {b} |")
        out.append("|---|---:|---:|---:|")
        for name in backends:
            pa, pb = _p95(by.get((sc["id"], a, name))), _p95(by.get((sc["id"], b, name)))
            out.append(f"| {name} | {fmt(pa, 2)} | {fmt(pb, 2)} | {fmt_ratio(ratio(pa, pb))} |")
        out.append("")
    return out


def _searches(doc: dict[str, Any], base: str) -> list[str]:
    st = doc.get("search_settings") or {}
    out = [
        "## Sustainable rate (search)\n",
        "The highest constant arrival rate each backend held: p99 from schedule within the "
        "scenario's criterion, >= 98 % of offered served, <= 1 % of requests late, success rate "
        f"met. Rates: a grid from {fmt(st.get('start_rate'), 0)}/s (x{fmt(st.get('factor'), 1)}), "
        f"then bisection to {fmt((st.get('precision') or 0) * 100, 0)} % (the write suite's "
        f"planner, benchlab.search.plan); each trial {fmt(st.get('warmup_s'), 0)} s of warm-up "
        f"and {fmt(st.get('measure_s'), 0)} s measured.\n",
        f"| scenario | backend | sustainable rate (/s) | first failing rate (/s) | vs {base} "
        "| trials | why the first failing rate failed |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    rates = _search_rates(doc)
    for s in doc["searches"]:
        fail = next((t for t in s["trials"] if t["rate"] == s["first_failing_rate"]), None)
        vs = fmt_ratio(ratio(s["sustainable_rate"], rates.get((s["scenario"], base))))
        out.append(
            f"| {s['scenario']} | {s['backend']} | {fmt(s['sustainable_rate'], 0)} "
            f"| {fmt(s['first_failing_rate'], 0)} | {vs} | {len(s['trials'])} "
            f"| {'; '.join(fail['why']) if fail else 'n/a'} |"
        )
    out.append("")
    return out


def render(doc: dict[str, Any]) -> str:
    backends = [b["name"] for b in doc["backends"]]
    by = _by(doc)
    out = _header(doc)
    out += _published(doc, backends)
    for sc in doc["scenarios"]:
        out += _scenario(sc, by, backends)
    if doc.get("searches"):
        out += _searches(doc, backends[0])
    return "\n".join(out) + "\n"


def _published(doc: dict[str, Any], backends: list[str]) -> list[str]:
    ids = {s["id"].split("/")[1]: s["id"] for s in doc["scenarios"]}
    rows = []
    for stem, num, den, _fig, published, what in PUBLISHED:
        if stem not in ids or num not in backends or den not in backends:
            continue
        a, b, how = _rps_pair(doc, ids[stem], num, den)
        here = f"{fmt_ratio(ratio(a, b))} ({fmt(a, 0)} vs {fmt(b, 0)}, {how})"
        rows.append(f"| {what} | {published} | {here} |")
    stem, published = PUBLISHED_PAGINATION
    sc = next((s for s in doc["scenarios"] if s["id"].endswith("/" + stem)), None)
    if sc and sc.get("compare"):
        a, b = sc["compare"]
        by = _by(doc)
        for name in backends:
            pa, pb = _p95(by.get((sc["id"], a, name))), _p95(by.get((sc["id"], b, name)))
            here = f"{fmt_ratio(ratio(pa, pb))} ({fmt(pa, 1)} vs {fmt(pb, 1)} ms)"
            rows.append(f"| {b} vs {a} at p95, {name} | {published} | {here} |")
    if not rows:
        return []
    return [
        "## Beside the seed lab's published ratios\n",
        "rps is the sustainable rate when the run searched it (`-e search=true`); otherwise ok/s "
        "at the scenario's offered rate, the same for every backend that holds it (a ratio near "
        "1 then says both held it, not that they are equal).\n",
        "| comparison | published | here |",
        "|---|---:|---|",
        *rows,
        "",
    ]
