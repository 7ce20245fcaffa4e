"""Per-queue settings and their effect on the scorecard."""

from pathlib import Path

from tests.qm.commands.subprocess_qm import REPO, run_qm
from tests.qm.manifests import row, write_manifest


def test_queue_settings_through_the_cli(db_url: str, tmp_path: Path) -> None:
    run_qm("init", db_url=db_url, cwd=tmp_path)
    script = REPO / "qm" / "demo" / "scripts" / "hvnb-retail.yaml"
    run_qm("script", "load", str(script), db_url=db_url, cwd=tmp_path)
    out = run_qm(
        "queue",
        "set",
        "billing",
        "--script",
        "hvnb-retail",
        "--fcr-window-days",
        "3",
        "--aht-min",
        "60",
        "--aht-max",
        "600",
        db_url=db_url,
        cwd=tmp_path,
    ).stdout
    assert out.strip() == "billing: script hvnb-retail, FCR window 3 d, handle-time band 60..600 s"
    bad = run_qm(
        "queue", "set", "billing", "--aht-min", "700", db_url=db_url, cwd=tmp_path, check=False
    )
    assert bad.returncode == 1 and "is empty" in bad.stderr
    cleared = run_qm("queue", "set", "billing", "--no-aht-band", db_url=db_url, cwd=tmp_path)
    assert cleared.stdout.strip().endswith("FCR window 3 d, handle-time band -..- s")
    run_qm(
        "queue",
        "set",
        "billing",
        "--aht-min",
        "60",
        "--aht-max",
        "600",
        db_url=db_url,
        cwd=tmp_path,
    )
    missing = run_qm(
        "queue", "set", "billing", "--script", "nope", db_url=db_url, cwd=tmp_path, check=False
    )
    assert missing.returncode == 1 and "no script 'nope'" in missing.stderr
    manifest = write_manifest(
        tmp_path / "m.csv",
        [
            row(
                "c1",
                queue="billing",
                started_at="2024-03-01T10:00:00Z",
                talk_seconds="20",
                hold_seconds="0",
                wrap_seconds="10",
            ),
            row("c2", queue="billing", customer_id="k2", started_at="2024-03-20T10:00:00Z"),
        ],
    )
    run_qm("ingest", "--manifest", str(manifest), db_url=db_url, cwd=tmp_path)
    import json

    card = json.loads(
        run_qm("scorecard", "--period", "2024-03", "--json", db_url=db_url, cwd=tmp_path).stdout
    )
    # c1 took 30 s, below the 60 s floor: 1 of 2 calls inside the band
    assert card["handle_time_in_band"]["value"] == 0.5
    assert "billing" in run_qm("queue", "list", db_url=db_url, cwd=tmp_path).stdout
