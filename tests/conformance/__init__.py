"""Conformance against Prism: every request a tool or a typed-client function can send is one the
vendor's published description accepts, as judged by Stoplight's Prism in mock mode.

Not collected by pytest (no `test_*` modules here): it needs Node.js and installs Prism. Run it
with `nox -s conformance`. Modules: prism (install, start, stop), described (the description Prism
serves), arguments (valid argument sets from input schemas), exchanges (what went over the wire,
and Prism's verdict), typed_calls (the typed call matching a tool call), runner, report.
"""
