"""What ``mailtwin sieve-test`` prints: Pigeonhole's dry-run layout ("Performed actions", "Implicit
keep") followed by the delivery, or one JSON document (docs/sieve.md)."""

from __future__ import annotations

from twin.sieve.delivery import Delivery, vacation_subject
from twin.sieve.message import Message
from twin.sieve.script import Result, Script


def action_json(action: tuple, message: Message | None) -> dict:
    kind = action[0]
    if kind == "store":
        return {"action": "store", "folder": action[1]}
    if kind == "redirect":
        return {"action": "redirect", "to": action[1]}
    if kind == "discard":
        return {"action": "discard"}
    v = action[1]
    return {"action": "vacation", "subject": vacation_subject(v, message), "seconds": v.seconds}


def result_json(
    script: Script, result: Result | None, delivery: Delivery | None, message: Message | None = None
) -> dict:
    """``--json``: compile errors, run-time errors and a failed delivery's errors all go to ``errors``."""
    if result is None:
        return {
            "compile_ok": False,
            "errors": script.errors,
            "warnings": script.warnings,
            "actions": [],
            "implicit_keep": False,
            "delivery": None,
        }
    return {
        "compile_ok": True,
        "errors": [*result.errors, *(delivery.errors if delivery else [])],
        "warnings": script.warnings,
        "actions": [action_json(a, message) for a in result.actions],
        "implicit_keep": result.implicit_keep,
        "delivery": delivery.as_dict() if delivery else None,
    }


def dry_run_text(
    script: Script, result: Result, message: Message, delivery: Delivery, folders: list[str]
) -> str:
    lines = []
    for error in result.errors:
        lines.append(f"error: {error}")
    if not result.errors:
        lines += ["Performed actions:", ""]
        if not result.actions:
            lines.append("  (none)")
        for action in result.actions:
            kind = action[0]
            if kind == "store":
                lines.append(f" * store message in folder: {action[1]}")
            elif kind == "redirect":
                lines.append(f" * redirect message to: <{action[1]}>")
            elif kind == "discard":
                lines.append(" * discard")
            else:
                v = action[1]
                lines += [
                    " * send vacation message:",
                    f"    => seconds : {v.seconds}",
                    f"    => subject : {vacation_subject(v, message)}",
                    f"    => handle  : {v.handle}",
                    "",
                    "START MESSAGE",
                    v.reason.rstrip("\n"),
                    "END MESSAGE",
                ]
        lines += ["", "Implicit keep:", ""]
        lines.append(" * store message in folder: INBOX" if result.implicit_keep else "  (none)")
    lines += ["", f"Delivery (folders: {', '.join(['INBOX', *folders])}):", ""]
    for error in delivery.errors:
        lines.append(f" ! {error}; the message goes to INBOX")
    for folder in delivery.stored:
        lines.append(f" * stored in: {folder}")
    for address in delivery.redirected:
        lines.append(f" * redirected to: <{address}>")
    if delivery.discarded:
        lines.append(" * discarded")
    if delivery.vacation is not None:
        v = delivery.vacation
        lines.append(f" * vacation reply: {'sent' if v['sent'] else 'not sent'} ({v['reason']})")
    return "\n".join(lines)
