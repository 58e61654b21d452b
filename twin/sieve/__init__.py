"""Sieve (RFC 5228 with envelope and fileinto, RFC 5230 vacation, RFC 5231 relational, RFC 4790
comparators): scripts parsed with sievelib (``grammar.py``, with what sievelib lacks), compiled into
closures and run against a message (``script.py``, ``message.py``), and what the mailbox then does with
the result (``delivery.py``). Pure logic, no simulation: the store and ``mailtwin sieve-test`` share it
(docs/sieve.md).
"""

from twin.sieve.delivery import Delivery, VacationMemory, deliver
from twin.sieve.message import Message
from twin.sieve.script import CompileError, Result, Script, compile_script

__all__ = [
    "CompileError",
    "Delivery",
    "Message",
    "Result",
    "Script",
    "VacationMemory",
    "compile_script",
    "deliver",
]
