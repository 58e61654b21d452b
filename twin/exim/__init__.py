"""Exim, the MTA of the frontends: its retry rules and hints database (``retry``) and what it does with a
message on its queue (``queue``). Pure logic, no simulation: the frontends and ``mailtwin retry-schedule``
share it.
"""
