"""The whole bill as text (the extra lines per webhook, the fixed monthly lines, $ per million at
1M, 10M and 100M webhooks a month with the monthly total, the assumptions with what each is
worth) and as a PNG of $ per million against the monthly volume."""
from __future__ import annotations

from pathlib import Path

from scripts.cost.bill import VOLUMES, Bill, Inputs, assumption_steps, whole_bill, worth
from scripts.cost.prices import FIXED_PRICE_DATE
from scripts.cost.webhook import total

#: The volume the assumptions' worth is printed at (millions of webhooks a month).
WORTH_AT = 10


def bill_report(environment: str, inputs: Inputs, bill: Bill | None = None) -> str:
    bill = bill or whole_bill(inputs)
    out = [f"whole bill: {environment}, fixed and storage prices of {FIXED_PRICE_DATE} (us-east-1)",
           "per webhook beyond the webhook path above, $ per million webhooks:"]
    out += [f"  {line.service:22s} ${line.dollars_per_million:7.2f}   {line.detail}" for line in bill.extra]
    out.append(f"variable: ${bill.variable:.2f} per million webhooks (webhook path ${total(bill.webhook):.2f} "
               f"+ the lines above ${total(bill.extra):.2f})")
    out.append("fixed, $ a month:")
    out += [f"  {line.service:22s} ${line.dollars_per_month:8.2f}   {line.detail}" for line in bill.fixed]
    out.append(f"fixed: ${bill.fixed_month:,.2f} a month")
    out.append("$ per million webhooks (fixed / volume + variable) and the monthly total:")
    out += [f"  {v:>3}M webhooks a month: ${bill.per_million(v):8.2f} per million, ${bill.month(v):10,.2f} a month"
            for v in VOLUMES]
    out.append(f"assumptions (each with what it is worth: the change of the monthly bill at {WORTH_AT}M webhooks "
               "a month when it moves as stated):")
    for step in assumption_steps(inputs):
        out.append(f"  {step.label}: {step.value}; {step.move}: {worth(inputs, step, WORTH_AT):+,.2f} $/month")
    return "\n".join(out)


def plot(bills: dict[str, Bill], path: Path) -> Path:
    """$ per million webhooks against webhooks a month (log-log), one curve per environment."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    volumes = [0.1 * 1.25 ** k for k in range(42)]  # 0.1M .. ~1,100M a month
    figure, axes = plt.subplots(figsize=(8, 5), dpi=100)
    for environment, bill in bills.items():
        axes.plot(volumes, [bill.per_million(v) for v in volumes],
                  label=rf"{environment}: \${bill.fixed_month:,.0f}/month fixed + \${bill.variable:.2f}/M")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("webhooks a month (millions)")
    axes.set_ylabel(r"\$ per million webhooks")
    axes.set_title("Payment webhooks: the whole bill per million webhooks (us-east-1 list prices)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)
    return path
