"""load_plan: any source (path, JSON text, Python object) in any supported format -> Plan."""
from __future__ import annotations

import ast
import json
import logging
import os
import re
from collections.abc import Mapping
from typing import Optional

from .bitconv_format import plan_from_dict
from .core import Plan, PlanError, RenameSpec, _show
from .importers import IMPORTERS, canonical_format, detect_format

log = logging.getLogger("bitconv.plan")


def load_plan(source, format: Optional[str] = None, **options) -> Plan:
    """Read a plan.

    source: a path (str or os.PathLike), a JSON string, a Python object (dict/list as the tool
        writes it), or a Plan.
    format: "bitconv", "haq", "hawq" (aliases "hawq-v3", "ompq"), "nncf", "aimet", "kernelwise"
        (alias "autoq"), or None to detect it. The chosen format is in ``plan.format`` and logged at
        INFO level on the "bitconv.plan" logger.
    options: ``rename`` (mapping or function, applied to layer names after reading), ``shapes``
        (suite name, shapes file or LayerShapes to attach), and per-format options:
        haq: ``names``, ``unquantized_bits``; hawq: ``config``, ``a_bits``;
        nncf / aimet: ``a_bits``, ``activation_map``; kernelwise: ``a_bits``.

    Every problem raises PlanError naming the source, the layer and the field.
    """
    rename: RenameSpec = options.pop("rename", None)
    shapes = options.pop("shapes", None)
    if isinstance(source, Plan):
        plan = source
        src_name = plan.source_name
        fmt = plan.format
        if options:
            raise PlanError("format options do not apply to an already loaded Plan", source=src_name,
                            field=next(iter(options)))
    else:
        data, src_name, file = _read(source)
        if format is not None:
            fmt = canonical_format(format, source=src_name)
            how = "given"
        else:
            fmt = _detect(data, src_name)
            how = "detected"
        plan = _import(fmt, data, src_name, file, options)
        log.info("bitconv.plan: read %s as %s (%s; %d layers, %d skipped, %d unmapped)", src_name, fmt, how,
                 len(plan), len(plan.skipped), len(plan.unmapped))
        for key, reason in plan.unmapped:
            log.info("bitconv.plan: %s: not mapped: %s: %s", src_name, key, reason)
    if rename is not None:
        plan = plan.renamed(rename)
    if shapes is not None:
        plan = plan.with_shapes(shapes)
    return plan


def _import(fmt, data, src_name, file, options) -> Plan:
    try:
        if fmt == "bitconv":
            if options:
                raise PlanError("the bitconv format takes no options", source=src_name, field=next(iter(options)))
            plan = plan_from_dict(data, source=src_name)
        else:
            plan = IMPORTERS[fmt](data, source=src_name, **options)
    except PlanError as e:
        raise e.with_context(source=src_name) from None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, RecursionError) as e:
        # Safety net: an unexpected shape of data must still name the source.
        raise PlanError(f"malformed {fmt} data ({type(e).__name__}: {e})", source=src_name,
                        field=fmt) from None
    plan.format = fmt
    plan.source = file
    return plan


def _detect(data, src_name) -> str:
    if isinstance(data, Mapping) and isinstance(data.get("format"), str) and data["format"] != "bitconv-plan":
        raise PlanError(f"unknown format tag {data['format']!r} (bitconv plans say 'bitconv-plan')",
                        source=src_name, field="format")
    fmt = detect_format(data)
    if fmt is None:
        raise PlanError("cannot tell which tool wrote this (not a bitconv plan, HAQ strategy, HAWQ/OMPQ "
                        "bit_config, NNCF bitwidth_per_scope, AIMET encodings or kernel-wise bit lists); "
                        "pass format=", source=src_name, field="format")
    return fmt


def _read(source):
    """(data, source name for messages, file path or None)."""
    if isinstance(source, os.PathLike):
        return _read_file(os.fspath(source))
    if isinstance(source, str):
        s = source.lstrip()
        if s.startswith(("{", "[")):
            return _parse_json(source, "<json string>"), "<json string>", None
        if not s:
            raise PlanError("empty string is neither a path nor JSON", source="<json string>", field="source")
        return _read_file(source)
    if isinstance(source, (Mapping, list, tuple)):
        return source, "<python object>", None
    raise PlanError(f"a plan source is a path, a JSON string, a dict/list or a Plan, got {_show(source)}",
                    source="<python object>", field="source")


def _read_file(path: str):
    if not os.path.exists(path):
        raise PlanError("no such file", source=path, field="path")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise PlanError(f"cannot read: {e}", source=path, field="path") from None
    if path.endswith(".py"):
        return _parse_python(text, path), path, path
    return _parse_json(text, path), path, path


def _parse_json(text: str, src: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as first:
        # NNCF configs are JSON with comments (and sometimes trailing commas): try again without them.
        stripped = strip_json_comments(text)
        if stripped != text:
            try:
                return json.loads(stripped)
            except json.JSONDecodeError:
                pass
        raise PlanError(f"not valid JSON: {first.msg} at line {first.lineno} column {first.colno}",
                        source=src, field="json") from None
    except RecursionError:
        raise PlanError("JSON nested too deeply", source=src, field="json") from None


# A JSON string, matched first so comment and comma patterns inside strings are kept (an
# unterminated string runs to the end of the text, as the JSON parser will report).
_JSON_STR = r'"(?:\\.|[^"\\])*(?:"|\\?\Z)'
_COMMENTS = re.compile(_JSON_STR + r"|//[^\n]*|/\*(?:.*?\*/|.*)", re.S)
_TRAILING_COMMAS = re.compile(_JSON_STR + r"|,(?=[ \t\r\n]*[}\]])", re.S)


def strip_json_comments(text: str) -> str:
    """Remove // line comments, /* */ block comments (an unclosed one runs to the end) and commas
    followed only by whitespace before } or ]; text inside JSON strings is kept as it is."""
    def keep_strings(m):
        return m.group(0) if m.group(0).startswith('"') else ""
    return _TRAILING_COMMAS.sub(keep_strings, _COMMENTS.sub(keep_strings, text))


def _parse_python(text: str, src: str):
    """A Python file holding literal dicts (HAWQ/OMPQ bit_config.py): read without executing it.

    Returns the value of ``bit_config_dict`` if assigned, else of the only top-level dict/list
    literal assignment (several assignments -> a dict keyed by their names).
    """
    try:
        tree = ast.parse(text, filename=src)
    except SyntaxError as e:
        raise PlanError(f"not valid Python: {e.msg} at line {e.lineno}", source=src, field="python") from None
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and isinstance(node.value, (ast.Dict, ast.List)):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except (ValueError, SyntaxError, TypeError) as e:
                raise PlanError(f"{node.targets[0].id} is not a literal ({e})", source=src,
                                field=node.targets[0].id) from None
    if not found:
        raise PlanError("no dict or list literal assigned at the top level", source=src, field="python")
    if "bit_config_dict" in found:
        return found["bit_config_dict"]
    if len(found) == 1:
        return next(iter(found.values()))
    return found
