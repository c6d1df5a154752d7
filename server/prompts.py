"""MCP prompts: a few bookkeeping tasks spelled out as the steps and tools that do them.

Each recipe names its steps; a step lists the tools that can do it, by their names in the tool
tables of the vendors that have them (Fortnox `list_customers`, smallinvoice `list_contacts`).
A prompt is offered only when every required step has a tool among the operations the server
serves; optional steps without one are left out. Everything else comes from the tool table: each
tool's group, whether it reads, writes or destroys (its hints), and whether the server will ask
for approval before sending it (the approval gate's own rule, passed in as `needs_approval`).

The text names every tool it uses in the spelling of the server's mode (`invoices` with
`"action": "create"` in consolidated mode, `call_operation` in discovery mode, `enable_groups`
first in auto mode) and lists the approvals the task will meet. No `mcp` import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ledgermcp.server.toolspec import vendor_title


@dataclass(frozen=True)
class Step:
    what: str
    tools: tuple[str, ...]  # the first one the server serves does the step
    optional: bool = False


@dataclass(frozen=True)
class Argument:
    name: str
    description: str
    required: bool = False


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    task: str  # a format string over the arguments: "Invoice {customer} ..."
    steps: tuple[Step, ...]
    arguments: tuple[Argument, ...] = ()
    advice: str = ""


RECIPES: tuple[Recipe, ...] = (
    Recipe(
        "invoice_customer",
        "Invoice a customer",
        "Invoice {customer} for {items}.",
        (
            Step("find the customer", ("list_customers", "list_contacts")),
            Step("create the customer if it does not exist yet", ("create_customer", "create_contact"), True),
            Step("create the invoice", ("create_invoice",)),
            Step("send it by e-mail", ("send_invoice_by_email", "send_invoice_by_e_mail"), True),
            Step("bookkeep it", ("bookkeep_invoice",), True),
        ),
        (
            Argument("customer", "the customer's name or number", required=True),
            Argument("items", "what to invoice: articles or work, quantities, prices"),
        ),
        "Ask the user before sending or bookkeeping if they did not say to.",
    ),
    Recipe(
        "chase_overdue_invoices",
        "Chase overdue invoices",
        "Find the invoices that are unpaid past their due date{as_of} and chase them.",
        (
            Step(
                "list unpaid invoices past their due date (use the list's filter for it)", ("list_invoices",)
            ),
            Step("look at one invoice", ("get_invoice",), True),
            # a payment reminder where the vendor has one, else the invoice once more
            Step(
                "send a payment reminder (or the invoice again)",
                ("print_invoice_reminder", "send_invoice_by_e_mail"),
            ),
            Step(
                "send the invoice again by e-mail", ("send_invoice_by_email", "send_invoice_by_e_mail"), True
            ),
        ),
        (Argument("as_of", "the date to count from (default: today)"),),
        "Show the user the list (customer, amount, days overdue) before sending anything.",
    ),
    Recipe(
        "check_month_bookings",
        "Check what was booked this month",
        "Check what was booked in {month}: list the vouchers, and point out anything unusual.",
        (
            Step("list the month's vouchers (from and to dates of the month)", ("list_vouchers",)),
            Step("read a voucher's rows", ("get_voucher",), True),
            Step("name the accounts", ("list_accounts",), True),
        ),
        (Argument("month", "the month, e.g. 2026-11 (default: this month)"),),
        "Read only: change nothing.",
    ),
    Recipe(
        "record_payment",
        "Record a customer payment",
        "Record that {customer} paid {amount}.",
        (
            Step("find the invoice that was paid", ("list_invoices",)),
            Step("register the payment", ("create_invoicepayment", "create_invoice_payment")),
            Step("bookkeep the payment", ("bookkeep_invoicepayment",), True),
        ),
        (
            Argument("customer", "who paid", required=True),
            Argument("amount", "the amount and the date it was paid", required=True),
        ),
    ),
)


class PromptError(LookupError):
    """An unknown prompt or a missing argument: the message says which and what to do."""


def _kind(tool: Mapping[str, Any]) -> str:
    ann = tool.get("annotations") or {}
    if ann.get("readOnlyHint"):
        return "reads"
    return "destructive" if ann.get("destructiveHint", True) else "writes"


def _default_needs_approval(tool: Mapping[str, Any]) -> bool:
    return bool((tool.get("annotations") or {}).get("destructiveHint"))


class Prompts:
    """The recipes a vendor's server can offer, as prompts/list and prompts/get answers."""

    def __init__(
        self,
        vendor: Any,
        surface: Any,
        needs_approval: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> None:
        self.vendor = vendor
        self.surface = surface
        self.needs_approval = needs_approval or _default_needs_approval
        served = set(surface.operation_names)
        self.offered: dict[str, tuple[Recipe, list[tuple[Step, str]]]] = {}
        for recipe in RECIPES:
            chosen: list[tuple[Step, str]] = []
            for step in recipe.steps:
                taken = {t for _, t in chosen}  # a tool already doing an earlier step does not repeat
                tool = next((t for t in step.tools if t in served and t in vendor.by_name), None)
                if tool is not None and tool in taken:
                    continue
                if tool is not None:
                    chosen.append((step, tool))
                elif not step.optional:
                    break
            else:
                self.offered[recipe.name] = (recipe, chosen)

    def approvals(self, chosen: list[tuple[Step, str]]) -> list[str]:
        return [tool for _, tool in chosen if self.needs_approval(self.vendor.tool(tool))]

    def listing(self) -> list[dict[str, Any]]:
        out = []
        for recipe, chosen in self.offered.values():
            tools = [tool for _, tool in chosen]
            approvals = self.approvals(chosen)
            description = f"Tools: {', '.join(tools)}." + (
                f" Needs approval: {', '.join(approvals)}." if approvals else " Needs no approval."
            )
            prompt: dict[str, Any] = {"name": recipe.name, "title": recipe.title, "description": description}
            if recipe.arguments:
                prompt["arguments"] = [
                    {"name": a.name, "description": a.description, "required": a.required}
                    for a in recipe.arguments
                ]
            out.append(prompt)
        return out

    def get(self, name: str, arguments: Mapping[str, str] | None) -> dict[str, Any]:
        if name not in self.offered:
            from ledgermcp.server.toolspec import nearest_names

            close = nearest_names(name, self.offered)
            hint = f"did you mean: {', '.join(close)}? " if close else ""
            raise PromptError(
                f"unknown prompt {name!r}; {hint}prompts/list shows the prompts this server offers"
            )
        recipe, chosen = self.offered[name]
        args = dict(arguments or {})
        missing = [a.name for a in recipe.arguments if a.required and not str(args.get(a.name) or "").strip()]
        if missing:
            raise PromptError(f"prompt {name!r} needs the argument(s) {', '.join(missing)}")
        fill = {a.name: str(args.get(a.name) or "").strip() for a in recipe.arguments}
        defaults = {"items": "what the user names", "month": "this month", "as_of": ""}
        values = {k: v or defaults.get(k, "") for k, v in fill.items()}
        if values.get("as_of"):
            values["as_of"] = f" as of {values['as_of']}"
        title = vendor_title(self.vendor)
        lines = [f"{recipe.task.format(**values)} Use the {title} tools of this server.", "", "Steps:"]
        for i, (step, tool) in enumerate(chosen, 1):
            entry = self.vendor.tool(tool)
            approval = " — needs approval" if self.needs_approval(entry) else ""
            lines.append(
                f"{i}. {step.what}{' (if needed)' if step.optional else ''}: {self.spelled(tool)} "
                f"(group {entry.get('group')}, {_kind(entry)}{approval})"
            )
        lines += self._reach(chosen)
        approvals = self.approvals(chosen)
        lines.append("")
        if approvals:
            lines.append(
                f"Approvals you will meet: {', '.join(approvals)}. The server shows the plan and asks the "
                "user, or answers with the plan and an approval token: show the plan to the user and "
                "repeat the call unchanged with the token only once they agree."
            )
        else:
            lines.append("None of these tools needs approval on this server.")
        lines.append("Tool arguments are checked before anything is sent; a failure names the fix.")
        if recipe.advice:
            lines.append(recipe.advice)
        text = "\n".join(lines)
        return {
            "description": recipe.title,
            "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
        }

    def spelled(self, tool: str) -> str:
        """How a model calls this operation in the server's mode."""
        mode = self.surface.mode
        if mode == "consolidated":
            for resource in self.surface.resources:
                for action, op in resource.actions.items():
                    if op["name"] == tool:
                        return f'{resource.name} with "action": "{action}"'
        if mode == "discovery":
            return f'call_operation with "name": "{tool}"'
        return tool

    def _reach(self, chosen: list[tuple[Step, str]]) -> list[str]:
        if self.surface.mode != "auto":
            return []
        groups = list(dict.fromkeys(str(self.vendor.tool(tool).get("group")) for _, tool in chosen))
        quoted = ", ".join(f'"{g}"' for g in groups)
        return [
            "",
            f'If these tools are not listed yet, call enable_groups with {{"groups": [{quoted}]}} first '
            "(or run each through call_operation).",
        ]
