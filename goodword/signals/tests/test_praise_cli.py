from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from goodword.cli import main


def test_evaluate_prints_precision_and_recall_of_a_labelled_file(tmp_path: Path) -> None:
    labelled = tmp_path / "set.jsonl"
    labelled.write_text(
        '{"text": "Thank you so much, the team loves it!", "label": "praise"}\n'
        '{"text": "The export is broken again.", "label": "complaint"}\n'
        '{"text": "Can we move the call to Friday?", "label": "neutral"}\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["praise", "evaluate", str(labelled)])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "3 messages, threshold 0.5: precision 1.000, recall 1.000 (tp 1, fp 0, fn 0, tn 2)\n"
    )


def test_a_bad_line_is_named(tmp_path: Path) -> None:
    labelled = tmp_path / "set.jsonl"
    labelled.write_text('{"text": "hi", "label": "happy"}\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["praise", "evaluate", str(labelled)])
    assert result.exit_code == 1
    assert "Error:" in result.output


def test_score_explains_itself() -> None:
    result = CliRunner().invoke(main, ["praise", "score", "Great tool, but it is broken."])
    assert result.exit_code == 0
    assert "(not praise at the threshold 0.5)" in result.output
    assert "complaint: 'broken'" in result.output
