"""The whole bill (scripts/cost: bill.py, fixed.py, inventory.py): each fixed line by hand for a
small synthetic inventory, the inventory of the reviewed prod and dev stacks, the extra lines per
webhook, $ per million at a volume against fixed / volume + variable, the assumptions with their
worth, the plot and the CLI."""
from __future__ import annotations

import dataclasses

import pytest

from scripts.cost import bill as bill_module
from scripts.cost import cli, fixed
from scripts.cost.bill import whole_bill
from scripts.cost.bill_report import bill_report
from scripts.cost.fixed import BillAssumptions
from scripts.cost.inputs import SAMPLE_CALLS, load_calls, realistic_sizes
from scripts.cost.inventory import Inventory, emf_series, inventory
from scripts.cost.prices import PRICES
from scripts.cost.settings import deployed_settings, waf_logged_share
from doc_tables import snapshot_stacks

#: A small environment: 2 GB warm, 2 NAT t4g.nano with 8 GB each, 2 EIPs, 3 endpoints in 2 AZs, ...
SMALL = Inventory(environment="small", provisioned_gb=2.0, peak_provisioned_gb_hours=1200.0,
                  nat_instances=("t4g.nano", "t4g.nano"), nat_volume_gb=16.0, public_ipv4=2, interface_endpoints=3,
                  endpoint_azs=2, waf_acls=1, waf_rules=4, kms_keys=5, secrets=3, alarm_metrics=10, dashboards=1,
                  custom_metrics=20, reason_metrics=2, stream_pipes=2, flow_logs=1, az_count=2,
                  reconcile_runs_per_month=5840.0, reconciler_memory_gb=0.5)
ASSUME = BillAssumptions(stream_shards=1, stream_polls_per_second=4.0, flow_log_gb_per_az_month=0.5, reason_values=5)

#: line -> $ a month, computed by hand from us-east-1 list prices (730 h a month)
BY_HAND = {
    "Lambda provisioned": 2.0 * 730 * 3600 * 0.0000033334 + 1200 * 3600 * 0.0000033334 / 12,  # 17.52 + 1.20
    "NAT instances": 2 * 0.0042 * 730 + 16 * 0.08,          # 6.13 + 1.28
    "Public IPv4": 2 * 0.005 * 730,                          # 7.30
    "Interface endpoints": 3 * 2 * 0.01 * 730,               # 43.80
    "WAF web ACL": 5.00 + 4 * 1.00,
    "KMS keys": 5 * 1.00,
    "Secrets Manager": 3 * 0.40,
    "CloudWatch alarms": 10 * 0.10,
    "CloudWatch dashboard": 3.00,
    "Custom metrics (EMF)": (20 + 2 * 5) * 0.30,             # 30 series
    "Pipes stream polling": 2 * 1 * 4 * 730 * 3600 * 0.02 / 100_000,  # 4.20
    "VPC flow logs": 1 * 2 * 0.5 * 0.50,
    # a run listing nothing: the request, one page (0.75 s at 0.5 GB, a checkpoint write), two secret
    # reads with their KMS decrypts
    "Reconciler runs": 5840 * (0.20e-6 + 0.75 * 0.5 * 0.0000133334 + 0.625e-6 + 2 * (0.05e-4 + 0.03e-4)),  # 0.13
}


def test_each_fixed_line_is_what_the_list_prices_give_for_a_small_inventory_by_hand():
    lines = {line.service: line.dollars_per_month for line in fixed.fixed_lines(SMALL, ASSUME)}
    assert lines == pytest.approx(BY_HAND)
    assert lines["Lambda provisioned"] == pytest.approx(18.72, abs=0.01)
    assert lines["Interface endpoints"] == pytest.approx(43.80)


def test_a_fixed_line_is_one_function_and_the_table_lists_each_once():
    assert len(set(fixed.FIXED_LINES)) == len(fixed.FIXED_LINES) == len(BY_HAND)
    nothing = fixed.fixed_lines(Inventory(environment="none"), BillAssumptions())
    assert all(line.dollars_per_month == 0 for line in nothing if line.service != "Pipes stream polling")


# ----- the inventory of the reviewed stacks ---------------------------------------------------

@pytest.fixture(scope="module")
def stacks():
    return snapshot_stacks(["dev", "prod"])


@pytest.fixture(scope="module")
def prod_settings():
    from constructs.app.environments import load_settings

    return load_settings("prod", environ={})


def test_prods_inventory_is_its_settings_as_the_stack_deploys_them(stacks, prod_settings):
    inv = inventory(prod_settings, stacks["prod"])
    gb = 3008 / 1024
    assert inv.provisioned_gb == pytest.approx(2 * gb)                    # processor_scaling minimum 2
    assert inv.peak_provisioned_gb_hours == pytest.approx(8 * 6 * 24 * gb)  # Black Friday: 10 instead of 2, 6 days
    assert inv.nat_instances == ("t4g.small",) * 3 and inv.nat_volume_gb == 24 and inv.public_ipv4 == 3
    assert (inv.interface_endpoints, inv.endpoint_azs) == (len(prod_settings.network.interface_endpoints), 3)
    assert (inv.waf_acls, inv.waf_rules, inv.kms_keys, inv.dashboards, inv.stream_pipes) == (1, 6, 8, 1, 2)
    resources = stacks["prod"]["resource"]
    assert inv.secrets == len(resources["aws_secretsmanager_secret"])
    assert inv.alarm_metrics == len(resources["aws_cloudwatch_metric_alarm"])
    assert inv.subscriptions == {"email": 2, "https": 1} and len(inv.pitr_tables) == 5


def test_the_custom_metric_series_are_the_names_the_handlers_emit_times_their_dimensions(prod_settings):
    plain, reason, vendor, total = _metrics()
    assert {"SuccessfulTransactions", "DuplicateWebhook", "NotificationsPublished", "ArchivedEvents"} <= plain
    assert reason == {"WebhookRejected", "UnroutableEvent", "LifecycleConflict"}
    assert {"DeliveryAttempts", "DeliveryLatency", "DeliverySuccesses", "DeliveryFailedAttempts",
            "DeliveryExhausted"} <= vendor and total == {"DeliveryExhausted", "DeliveryEndpointDisabled", "DeliveryParked"}
    vendors = len(prod_settings.delivery.vendors)
    assert emf_series(prod_settings, reason_values=6) == len(plain) + len(reason) * 6 + len(vendor) * vendors + len(total)


def _metrics():
    from scripts.cost.inventory import _code_metrics

    return _code_metrics()


def test_the_inventory_counts_the_reconciler_schedules_and_its_memory(stacks, prod_settings):
    inv = inventory(prod_settings, stacks["prod"])
    runs = 730 * 60 / prod_settings.reconcile.interval_minutes  # rate(15 minutes): 2,920 a month
    assert inv.reconcile_runs_per_month == pytest.approx(len(prod_settings.reconcile.providers) * runs)
    assert inv.reconciler_memory_gb == prod_settings.function("reconciler").memory_mb / 1024
    with pytest.raises(ValueError, match="rate\\(\\) schedules only, got 'cron"):
        from scripts.cost.inventory import _runs_per_month

        _runs_per_month("cron(0 * * * ? *)")


# ----- the extra lines per webhook and the bill ----------------------------------------------

@pytest.fixture(scope="module")
def prod_inputs(stacks):
    calls, sizes = load_calls(SAMPLE_CALLS), realistic_sizes()
    return cli.bill_inputs("prod", calls, sizes, stack=stacks["prod"])


def test_dollars_per_million_at_a_volume_are_the_fixed_costs_spread_over_it_plus_the_variable(prod_inputs):
    bill = whole_bill(prod_inputs)
    variable = sum(x.dollars_per_million for x in bill.webhook) + sum(x.dollars_per_million for x in bill.extra)
    fixed_month = sum(x.dollars_per_month for x in bill.fixed)
    for millions in (1, 10, 100):
        assert bill.per_million(millions) == pytest.approx(fixed_month / millions + variable)
        assert bill.month(millions) == pytest.approx(fixed_month + millions * variable)
    text = bill_report("prod", prod_inputs, bill)
    assert f"   10M webhooks a month: ${bill.per_million(10):8.2f} per million, ${bill.month(10):10,.2f} a month" in text
    assert f"fixed: ${fixed_month:,.2f} a month" in text


def test_vendor_delivery_joins_the_webhook_total_at_the_deliveries_per_webhook(prod_inputs):
    bill = whole_bill(prod_inputs)
    line = next(x for x in bill.extra if x.service == "Vendor delivery")
    per_delivery = sum(x.dollars_per_million for x in bill.delivery)
    assert line.dollars_per_million == pytest.approx(per_delivery * bill.deliveries_per_webhook)
    assert 0.3 < bill.deliveries_per_webhook < 0.5 and line.dollars_per_million > 3


def test_every_vendor_email_subscription_is_priced_per_e_mail(prod_inputs):
    with_email = dataclasses.replace(prod_inputs, settings=prod_inputs.settings.model_copy(update={
        "vendor_subscriptions": (*prod_inputs.settings.vendor_subscriptions,
                                 prod_inputs.settings.vendor_subscriptions[0].model_copy(
                                     update={"vendor_id": "vendor-globex", "protocol": "email",
                                             "endpoint": "sales@globex.example.com"}))}))
    before = bill_module.subscriptions(prod_inputs, []).dollars_per_million
    after = bill_module.subscriptions(with_email, []).dollars_per_million
    publishes = prod_inputs.calls["calls"]["sns:Publish"] / prod_inputs.calls["webhooks"]
    # the run's publishes less delivery's none: half of them go to globex (2 known vendors)
    assert after - before == pytest.approx(publishes / 2 * PRICES["sns_per_email"] * 1e6, rel=0.01)


def test_waf_logs_counted_requests_only_when_the_settings_log_count():
    base = deployed_settings("prod")
    assert waf_logged_share(base) == pytest.approx(0.005)                 # BLOCK only
    counted = dataclasses.replace(base, waf_log_actions=("BLOCK", "COUNT"))
    assert waf_logged_share(counted) == 1.0                                # every webhook is counted (hosting ranges)
    assert waf_logged_share(dataclasses.replace(base, waf_log_actions=())) == 1.0
    assert waf_logged_share(dataclasses.replace(counted, waf_counted_share=0.2)) == pytest.approx(0.205)


def test_storage_grows_with_the_ledger_rows_and_the_archive_objects(prod_inputs):
    ledger = bill_module.ledger_bytes_per_webhook(prod_inputs)
    assert 1_000 < ledger < 2_000   # event row ~1 KB + state, marker, index entries
    line = bill_module.ledger_storage(prod_inputs, [])
    assert line.dollars_per_million == pytest.approx(ledger / 1e9 * (0.25 + 0.20) * 12 * 1e6)
    events, objects = bill_module.archived_events(prod_inputs)
    assert 0.7 < events < 0.9 and objects == pytest.approx(0.02)  # 100-record batches, 2 objects each


def test_each_assumption_is_printed_with_what_moving_it_is_worth(prod_inputs):
    steps = bill_module.assumption_steps(prod_inputs)
    text = bill_report("prod", prod_inputs)
    for step in steps:
        assert f"  {step.label}: {step.value}; {step.move}: " in text
    worth = {step.label: bill_module.worth(prod_inputs, step, 10) for step in steps}
    assert worth["months a webhook's ledger rows are priced"] == pytest.approx(
        10 * bill_module.ledger_storage(prod_inputs, []).dollars_per_million)
    assert worth["stream shards per table"] == pytest.approx(4.20, abs=0.01)
    assert worth["Pipe A batches full at steady traffic"] > 0 and worth["DynamoDB round trip"] > 0
    # prod logs BLOCK only: the counted share is worth nothing there
    assert worth["share of webhooks WAF counts (logged with COUNT)"] == 0


def test_the_plot_is_a_png_of_dollars_per_million_against_volume(prod_inputs, tmp_path):
    from scripts.cost.bill_report import plot

    path = plot({"prod": whole_bill(prod_inputs)}, tmp_path / "bill.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_main_prints_the_whole_bill_and_the_plots_path(stacks, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "synthesized_stack", lambda settings: stacks[settings.environment])
    assert cli.main(["--env", "prod", "--calls", str(SAMPLE_CALLS), "--plot", str(tmp_path / "b.png")]) == 0
    out = capsys.readouterr().out
    assert "total: $" in out and "whole bill: prod" in out and "  100M webhooks a month: $" in out
    assert out.rstrip().endswith(f"plot: {tmp_path / 'b.png'}") and (tmp_path / "b.png").is_file()


def test_reconciliation_is_each_webhook_listed_once_a_run_whose_window_holds_it(prod_inputs):
    """By hand: a PayPal run lists every event of its window (interval 15 + lookback 60 min), so each
    webhook is listed 5 times; a listed event is one consistent claim read and a 300th of a page
    (0.75 s of a 0.5 GB reconciler and a checkpoint write). Stripe runs list 0.1 % of Stripe's."""
    settings = prod_inputs.settings.reconcile
    assert (settings.interval_minutes, settings.lookback_minutes) == (15, 60)
    memory = prod_inputs.inventory.reconciler_memory_gb
    listed = 0.125e-6 + (0.75 * memory * 0.0000133334 + 0.625e-6) / 300
    by_hand = {"paypal": 5 * listed, "stripe": 5 * 0.001 * (0.125e-6 + (0.75 * memory * 0.0000133334 + 0.625e-6) / 100)}
    for share in (0.0, 0.5, 1.0):
        inputs = dataclasses.replace(prod_inputs, assumptions=dataclasses.replace(prod_inputs.assumptions, paypal_share=share))
        [line] = [x for x in whole_bill(inputs).extra if x.service == "Reconciliation"]
        expected = share * by_hand["paypal"] + (1 - share) * by_hand["stripe"]
        assert line.dollars_per_million == pytest.approx(expected * 1e6, rel=0.01)
    # the per-run model agrees: a busy PayPal run is an idle one plus its listed events, within a page
    from scripts.cost.reconcile import LISTED_SHARE, ReconcileInputs, idle_run, per_listed_event, run_model

    run = ReconcileInputs(memory_gb=memory, provider="paypal", listed_share=LISTED_SHARE["paypal"])
    busy = sum(line.dollars_per_million for line in run_model(run)[0])
    assert busy == pytest.approx(idle_run(run) + 750_000 * per_listed_event(run), rel=0.001)
    none = dataclasses.replace(prod_inputs, inventory=dataclasses.replace(prod_inputs.inventory, reconcile_runs_per_month=0))
    [line] = [x for x in whole_bill(none).extra if x.service == "Reconciliation"]
    assert (line.dollars_per_million, line.detail) == (0.0, "no reconciler in this stack")
