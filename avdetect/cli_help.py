"""Help texts without typer's "<bool>" beside flags (--force, --help, ...): a flag takes no value."""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup


def quiet_flags(params: list[Any]) -> list[Any]:
    """Give every flag option an empty metavar, which typer prints instead of "<bool>".
    (Duck-typed: typer builds its options on its own copy of click.)"""
    for p in params:
        if getattr(p, "is_flag", False) and getattr(p, "metavar", "") is None:
            p.metavar = ""
    return params


class FlagGroup(TyperGroup):
    """The app's command group: its own and every subcommand's flags show no type in --help."""

    def get_params(self, ctx) -> list[Any]:
        return quiet_flags(super().get_params(ctx))

    def get_command(self, ctx, cmd_name: str):
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            quiet_flags(cmd.get_params(ctx))
            for name in cmd.list_commands(ctx) if hasattr(cmd, "list_commands") else []:  # nested groups
                sub = cmd.get_command(ctx, name)
                if sub is not None:
                    quiet_flags(sub.get_params(ctx))
        return cmd
