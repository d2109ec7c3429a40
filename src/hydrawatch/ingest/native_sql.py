"""The one SQL statement of the native ingest path: JSON lines to ``EVENT_COLUMNS`` rows.

Input: a relation with ``line`` (BIGINT) and ``raw`` (VARCHAR, one JSON line). Output: the
``EVENT_COLUMNS`` values (``source`` bound as parameter ``$source``) and ``fb``: TRUE when the
SQL cannot decide the line exactly (invalid JSON, a rare shape, any value the Python fast path
would also hand to the full parser). Those lines go to the Python parser, so for every line
with ``fb = FALSE`` the row equals what ``fastrow.simple_row`` (hence ``parse_contract``) gives.

Each JSON value is read by ``from_json`` as its JSON text (DuckDB re-serialises it: numbers
in shortest form, strings with only the escapes they need), so a value's kind is its first
character and a string without a backslash is its text between the quotes.
"""

from __future__ import annotations

from typing import Final

from hydrawatch.ingest.content import _TEXT_TYPES, SYSTEM_ROLES
from hydrawatch.ingest.contract import CONTRACT_FIELDS
from hydrawatch.ingest.fastrow import FAST_PARAM_KEYS
from hydrawatch.ingest.values import INT32_MAX, INT64_MAX, MAX_EPOCH_S

# every contract field but messages, which is decoded as a list below
_TOP: Final = tuple(sorted(CONTRACT_FIELDS - {"messages"}))
# messages as a list of (role, content) JSON texts; everything else as JSON text
_STRUCT: Final = (
    "{" + ",".join(f'"{k}":"JSON"' for k in _TOP) + ',"messages":[{"role":"JSON","content":"JSON"}]}'
)
_PARAMS_STRUCT: Final = (
    '{"max_tokens":"JSON","temperature":"JSON","top_p":"JSON","n":"JSON","logprobs":"JSON",'
    '"top_logprobs":"JSON","stream":"JSON","tools":"JSON","reasoning_effort":"JSON","thinking":"JSON"}'
)
_PART_LIST: Final = '[{"type":"JSON","text":"JSON"}]'  # a string or non-object part: both NULL
_THINKING_STRUCT: Final = '{"type":"JSON","budget_tokens":"JSON"}'
_ISO: Final = (
    r"\d{4}-\d{2}-\d{2}[T ](?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?"
    r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?"
)


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _in(values: frozenset[str] | tuple[str, ...]) -> str:
    return "(" + ", ".join(_lit(v) for v in sorted(values)) + ")"


def _str(x: str) -> str:
    """The text of a JSON string value (NULL for absent/null; undefined for other kinds)."""
    return f"json_extract_string({x}, '$')"


def _is_str(x: str) -> str:
    return f"({x} IS NULL OR left({x}, 1) = '\"')"


_NUMBER_START: Final = "(" + ", ".join(f"'{c}'" for c in "-0123456789") + ")"


def _is_num(x: str) -> str:
    """JSON number text (every other kind starts with a quote, a bracket, t, f or n)."""
    return f"left({x}, 1) IN {_NUMBER_START}"


def _is_int(x: str) -> str:
    """JSON integer text (DuckDB writes every float with a '.' or an exponent)."""
    return f"({_is_num(x)} AND NOT contains({x}, '.') AND NOT contains({x}, 'e') AND NOT contains({x}, 'E'))"


def _count(x: str, hi: int) -> tuple[str, str]:
    """(value, ok) of an optional count in [0, hi] given as a JSON integer."""
    v = f"TRY_CAST({x} AS BIGINT)"
    ok = f"coalesce({x} IS NULL OR ({_is_int(x)} AND {v} BETWEEN 0 AND {hi}), FALSE)"
    return v, ok


def _number(x: str) -> tuple[str, str]:
    """(value, ok) of an optional finite number (an integer within +-2**53, or a float)."""
    as_int = f"TRY_CAST({x} AS BIGINT)"
    as_float = f"TRY_CAST({x} AS DOUBLE)"
    v = f"CASE WHEN {_is_int(x)} THEN {as_int}::DOUBLE ELSE {as_float} END"
    ok = (
        f"coalesce({x} IS NULL OR CASE WHEN {_is_int(x)} THEN {as_int} BETWEEN -{INT64_MAX} AND {INT64_MAX}"
        f" WHEN {_is_num(x)} THEN isfinite({as_float}) ELSE FALSE END, FALSE)"
    )
    return v, ok


def _opt_str(field: str) -> str:
    """An optional string column: NULL when absent, null or empty."""
    x = f"r.{field}"
    return f"CASE WHEN {_is_str(x)} THEN nullif({_str(x)}, '') END AS {field}"


def _bool(x: str) -> tuple[str, str]:
    return f"({x} = 'true')", f"coalesce({x} IS NULL OR {x} IN ('true', 'false'), FALSE)"


def _content(c: str) -> str:
    """Text of a message content (JSON text): a string, or a list of text parts joined by
    newlines (empty texts left out); NULL for any other shape (the Python parser decides)."""
    kinds = ", ".join(_lit(f'"{k}"') for k in sorted(_TEXT_TYPES))
    parts = f"from_json({c}, '{_PART_LIST}')"
    texts = (
        f"list_transform({parts}, lambda q: CASE WHEN q.type IN ({kinds}) AND left(q.text, 1) = '\"'"
        " THEN json_extract_string(q.text, '$') END)"
    )
    joined = (
        f"CASE WHEN list_count({texts}) = json_array_length({c})"
        f" THEN array_to_string(list_filter({texts}, lambda t: t <> ''), chr(10)) END"
    )
    return f"CASE left({c}, 1) WHEN '\"' THEN {_str(c)} WHEN '[' THEN {joined} END"


def _iso_ts(s: str) -> str:
    """Epoch seconds of ISO-8601 text ``s`` (date, time to the second, up to 6 decimals, Z or
    +-HH:MM or no zone = UTC), NULL for any other text."""
    zoned = f"substr({s}, -6, 1) IN ('+', '-') AND length({s}) > 19"
    zone = (
        f"CASE WHEN right({s}, 1) = 'Z' THEN 0 WHEN {zoned}"
        f" THEN (CASE substr({s}, -6, 1) WHEN '-' THEN -1 ELSE 1 END)"
        f" * (TRY_CAST(substr({s}, -5, 2) AS BIGINT) * 3600"
        f" + TRY_CAST(substr({s}, -2, 2) AS BIGINT) * 60) * 1000000"
        " ELSE 0 END"
    )
    body = f"CASE WHEN right({s}, 1) = 'Z' THEN {s}[:-2] WHEN {zoned} THEN {s}[:-7] ELSE {s} END"
    return (
        f"CASE WHEN regexp_full_match({s}, {_lit(_ISO)})"
        f" THEN (epoch_us(TRY_CAST({body} AS TIMESTAMP)) - ({zone}))::DOUBLE / 1000000.0 END"
    )


def _epoch(f: str) -> str:
    """Epoch seconds from a non-negative number of s, ms, us or ns (as the Python parser scales it)."""
    return (
        f"CASE WHEN {f} < 0 THEN NULL WHEN {f} < {MAX_EPOCH_S} THEN {f}"
        f" WHEN {f} / 1000.0 < {MAX_EPOCH_S} THEN {f} / 1000.0"
        f" WHEN {f} / 1000.0 / 1000.0 < {MAX_EPOCH_S} THEN {f} / 1000.0 / 1000.0"
        f" WHEN {f} / 1000.0 / 1000.0 / 1000.0 < {MAX_EPOCH_S} THEN {f} / 1000.0 / 1000.0 / 1000.0 END"
    )


def _ts_parts(x: str) -> tuple[str, str]:
    """(ISO text, number) of ``ts`` (JSON text); each NULL when ``ts`` is not of that kind."""
    num, num_ok = _number(x)
    text = f"CASE WHEN left({x}, 1) = '\"' THEN json_extract_string({x}, '$') END"
    number = f"CASE WHEN {_is_num(x)} AND {num_ok} THEN {num} END"
    return text, number


def native_sql(lines: str) -> str:
    """The SELECT that normalises relation ``lines`` (columns ``line``, ``raw``); ``$source`` is bound."""
    sys_roles = _in(SYSTEM_ROLES)
    opt_strings = ("model", "ip", "user_agent", "api_key_id", "client_fingerprint")
    param_keys = ", ".join(_lit(k) for k in sorted(FAST_PARAM_KEYS))
    max_tokens, max_tokens_ok = _count("p.max_tokens", INT64_MAX)
    n, n_ok = _count("p.n", INT32_MAX)
    top_lp, top_lp_ok = _count("p.top_logprobs", INT32_MAX)
    temperature, temperature_ok = _number("p.temperature")
    top_p, top_p_ok = _number("p.top_p")
    logprobs, logprobs_ok = _bool("p.logprobs")
    stream, stream_ok = _bool("p.stream")
    budget, budget_ok = _count("th.budget_tokens", INT64_MAX)
    in_tok, in_ok = _count("r.input_tokens", INT64_MAX)
    out_tok, out_ok = _count("r.output_tokens", INT64_MAX)
    rs_tok, rs_ok = _count("r.reasoning_tokens", INT64_MAX)
    status, status_ok = _count("r.status", INT32_MAX)
    latency, latency_ok = _number("r.latency_ms")
    resp = "r.response"
    # every key a distinct contract field with a value: no duplicate, unknown, null or adapter key
    present = " + ".join(f"(r.{k} IS NOT NULL)::INTEGER" for k in (*_TOP, "messages"))
    ts_text, ts_num = _ts_parts("r.ts")
    return f"""
WITH parsed AS (
  SELECT line, raw, TRY(from_json(raw, '{_STRUCT}')) AS r, TRY(json_keys(raw)) AS keys
  FROM {lines}
), shaped AS (
  SELECT line, r, keys,
    r IS NOT NULL AND keys IS NOT NULL AND left(ltrim(raw, ' ' || chr(9) || chr(10) || chr(13)), 1) = '{{'
      AND CASE WHEN len(keys) = {present} THEN TRUE ELSE len(keys) = len(list_distinct(keys))
        AND NOT list_has_any(keys, ['request', 'request_id'])
        AND (r.messages IS NOT NULL OR NOT list_contains(keys, 'messages')) END AS shape_ok,
    list_transform(r.messages, lambda m: {{
      'role': CASE WHEN left(m.role, 1) = '"' THEN {_str("m.role")} END,
      'text': {_content("m.content")},
      'arr': left(m.content, 1) = '['}}) AS msgs,
    CASE WHEN left(r.params, 1) = '{{' THEN from_json(r.params, '{_PARAMS_STRUCT}') END AS p,
    CASE WHEN left(r.params, 1) = '{{' THEN json_keys(r.params) END AS pkeys,
    {ts_text} AS ts_text, {ts_num} AS ts_num
  FROM parsed
), decided AS (
  SELECT line, r, p, pkeys, msgs, shape_ok,
    CASE WHEN left(p.thinking, 1) = '{{' THEN from_json(p.thinking, '{_THINKING_STRUCT}') END AS th,
    coalesce({_iso_ts("ts_text")}, {_epoch("ts_num")}) AS ts_any,
    CASE WHEN left(r.account_id, 1) = '"' THEN {_str("r.account_id")} END AS account_id,
    list_filter(msgs, lambda m: m.role NOT IN {sys_roles}) AS chat,
    list_filter(list_transform(list_filter(msgs, lambda m: m.role IN {sys_roles}), lambda m: m.text),
      lambda t: t <> '') AS lifted
  FROM shaped
), rows AS (
  SELECT line, r, p, th, CASE WHEN ts_any >= 0 THEN ts_any END AS ts, account_id, lifted, shape_ok,
    pkeys, msgs,
    CASE WHEN len(msgs) > 0 THEN chat
      WHEN left(r.prompt, 1) = '"' AND r.prompt <> '""' THEN [{{'role': 'user', 'text': {_str("r.prompt")}}}]
      ELSE [] END AS chat,
    CASE WHEN r.system IS NULL OR r.system = '""' THEN lifted
      WHEN left(r.system, 1) = '"' THEN list_prepend({_str("r.system")}, lifted) END AS system_texts
  FROM decided
)
SELECT
  ts,
  account_id,
  CASE WHEN {_is_str("r.model")} THEN nullif({_str("r.model")}, '') END AS model,
  coalesce(list_filter(chat, lambda m: m.role = 'user')[-1].text, '') AS prompt,
  nullif(array_to_string(system_texts, chr(10)), '') AS system,
  len(chat)::INTEGER AS n_messages,
  len(list_filter(chat, lambda m: m.role = 'user'))::INTEGER AS user_turns,
  len(list_filter(chat, lambda m: m.role = 'assistant'))::INTEGER AS assistant_turns,
  coalesce(list_sum(list_transform(chat, lambda m: length(m.text))), 0)::BIGINT AS context_chars,
  {", ".join(_opt_str(k) for k in opt_strings[1:])},
  {max_tokens} AS max_tokens,
  {temperature} AS temperature,
  {top_p} AS top_p,
  TRY_CAST({n} AS INTEGER) AS n,
  {logprobs} AS logprobs,
  TRY_CAST({top_lp} AS INTEGER) AS top_logprobs,
  {stream} AS stream,
  coalesce(CASE WHEN left(p.tools, 1) = '[' THEN json_array_length(p.tools) END, 0)::INTEGER AS n_tools,
  nullif({_str("p.reasoning_effort")}, '') AS reasoning_effort,
  CASE WHEN th.type IS DISTINCT FROM '"disabled"' THEN {budget} END AS thinking_budget,
  {in_tok} AS input_tokens,
  {out_tok} AS output_tokens,
  {rs_tok} AS reasoning_tokens,
  TRY_CAST({status} AS INTEGER) AS status,
  {latency} AS latency_ms,
  CASE WHEN {resp} IS NULL THEN NULL WHEN contains({resp}, '\\') THEN length(json_extract_string({resp}, '$'))
    ELSE length({resp}) - 2 END::BIGINT AS response_chars,
  line,
  $source AS source,
  NOT coalesce(
    shape_ok AND ts IS NOT NULL
    AND account_id IS NOT NULL AND regexp_matches(account_id, '[!-~]')
    AND (msgs IS NULL OR (list_count(list_transform(msgs, lambda m: nullif(m.role, '') || m.text)) = len(msgs)
      AND len(list_filter(msgs, lambda m: m.arr AND m.text = '' AND m.role = 'assistant')) = 0))
    AND (coalesce(len(msgs), 0) > 0 OR {_is_str("r.prompt")})
    AND system_texts IS NOT NULL
    AND {" AND ".join(_is_str("r." + k) for k in opt_strings)}
    AND (r.params IS NULL OR (p IS NOT NULL AND list_has_all([{param_keys}], pkeys)
      AND len(pkeys) = len(list_distinct(pkeys))
      AND {max_tokens_ok} AND {n_ok} AND {top_lp_ok} AND {temperature_ok} AND {top_p_ok}
      AND {logprobs_ok} AND {stream_ok}
      AND (p.tools IS NULL OR left(p.tools, 1) = '[')
      AND {_is_str("p.reasoning_effort")}
      AND (p.thinking IS NULL OR (th IS NOT NULL AND {budget_ok}))))
    AND {in_ok} AND {out_ok} AND {rs_ok} AND {status_ok} AND {latency_ok}
    AND {_is_str(resp)},
    FALSE) AS fb
FROM rows
"""
