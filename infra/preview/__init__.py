"""The offline infrastructure diff: `python -m infra.preview` (docs/operations.md).

The program runs under Pulumi's mock runtime (`infra.mockrun`) for the working tree and for a
base revision checked out in a temporary git worktree; the two resource graphs are compared per
stack. One module per step: `worktree` (the base checkout), `snapshot` (one tree's resources as
JSON, run in a subprocess per tree), `diff` (what changed), `replacements` (the properties known
to force a replacement), `render` (text and markdown), `cli` (the command).
"""
