"""`cliargs`: a bad command line or configuration is one line on stderr and `os.EX_USAGE`."""

from __future__ import annotations

import os

import pytest

from cliargs import UsageParser, usage_error, usage_line


def _parser() -> UsageParser:
    parser = UsageParser(prog="python -m tool", name="tool", description="A tool.")
    parser.add_argument("--count", type=int, default=1, help="how many")
    return parser


def _exit(parser: UsageParser, argv: list[str]) -> int | str | None:
    with pytest.raises(SystemExit) as info:
        parser.parse_args(argv)
    return info.value.code


def test_a_bad_argument_value_is_one_line_and_ex_usage(capsys: pytest.CaptureFixture[str]):
    # WHEN an option gets a value its type refuses
    code = _exit(_parser(), ["--count", "many"])
    # THEN the status is EX_USAGE and stderr is exactly one line naming the option, no usage dump
    out, err = capsys.readouterr()
    assert code == os.EX_USAGE
    assert out == ""
    assert err == "tool: error: argument --count: invalid int value: 'many'\n"


def test_an_unknown_option_is_one_line_and_ex_usage(capsys: pytest.CaptureFixture[str]):
    code = _exit(_parser(), ["--nope"])
    out, err = capsys.readouterr()
    assert code == os.EX_USAGE
    assert out == ""
    assert err == "tool: error: unrecognized arguments: --nope\n"


def test_the_line_starts_with_prog_unless_named(capsys: pytest.CaptureFixture[str]):
    parser = UsageParser(prog="python -m other")
    assert _exit(parser, ["--nope"]) == os.EX_USAGE
    assert capsys.readouterr().err.startswith("python -m other: error: unrecognized arguments")


def test_subcommands_fail_the_same_way_named_after_their_prog(
    capsys: pytest.CaptureFixture[str],
):
    parser = UsageParser(prog="python -m tool")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up").add_argument("--port", type=int)
    # WHEN the subcommand gets a bad value, or none is given
    assert _exit(parser, ["up", "--port", "x"]) == os.EX_USAGE
    bad_value = capsys.readouterr().err
    assert _exit(parser, []) == os.EX_USAGE
    missing = capsys.readouterr().err
    # THEN each is one line, the subcommand's own prog first
    assert bad_value == "python -m tool up: error: argument --port: invalid int value: 'x'\n"
    assert missing == "python -m tool: error: the following arguments are required: command\n"


def test_help_still_prints_the_usage_and_exits_0(capsys: pytest.CaptureFixture[str]):
    code = _exit(_parser(), ["--help"])
    out, err = capsys.readouterr()
    assert code == 0
    assert out.startswith("usage: python -m tool [-h] [--count COUNT]")
    assert "how many" in out
    assert err == ""


def test_good_arguments_parse_as_argparse_does():
    assert _parser().parse_args(["--count", "3"]).count == 3


def test_a_bad_configuration_is_reported_the_same_way(capsys: pytest.CaptureFixture[str]):
    # WHEN a CLI finds its configuration unusable after parsing
    code = usage_error("tool", "no stack 'nosuch': Pulumi.nosuch.yaml not found")
    # THEN it returns EX_USAGE for main to return, having printed the same one-line shape
    assert code == os.EX_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "tool: error: no stack 'nosuch': Pulumi.nosuch.yaml not found\n"


def test_a_multi_line_message_still_makes_one_line(capsys: pytest.CaptureFixture[str]):
    usage_error("tool", ValueError("bad value\n  for x\n\n"))
    assert capsys.readouterr().err == "tool: error: bad value for x\n"
    assert usage_line("tool", "one") == "tool: error: one"
