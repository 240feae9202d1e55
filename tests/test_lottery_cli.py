"""``prune`` and ``export`` end to end on promptir-test with a folder of tiny generated photos."""

import json

import pytest
import torch

from restorelab.errors import RestoreLabError
from restorelab.inference.weights import load_state
from restorelab.inference.compact import load_compact

from conftest import LOTTERY_TRAIN_FLAGS, run_lottery_cli



def test_prune_json_per_round_and_resume_prints_all(lottery_imp_run, lottery_photos):
    out = run_lottery_cli("prune", "--strategy", "global", "--rate", "0.5", "--target", "0.7", "--target-over",
              "prunable", "--steps-per-round", "2", "--run-dir", lottery_imp_run, "--data-dir", lottery_photos, "--json",
              *LOTTERY_TRAIN_FLAGS)
    recs = [json.loads(line) for line in out.splitlines()]
    assert [r["round"] for r in recs] == [0, 1, 2]
    assert recs[-1]["prunable_sparsity"] == pytest.approx(0.75, abs=1e-4) and "layers" not in recs[-1]
    human = run_lottery_cli("prune", "--strategy", "global", "--rate", "0.5", "--target", "0.7", "--target-over",
                "prunable", "--steps-per-round", "2", "--run-dir", lottery_imp_run, "--data-dir", lottery_photos, *LOTTERY_TRAIN_FLAGS)
    assert "round  2" in human and "val PSNR" in human


def test_stop_after_then_resume(tmp_path, lottery_photos):
    flags = ["prune", "--strategy", "layerwise", "--rate", "0.5", "--rounds", "1", "--steps-per-round", "2",
             "--run-dir", tmp_path / "lw", "--data-dir", lottery_photos, "--json", *LOTTERY_TRAIN_FLAGS]
    out = run_lottery_cli(*flags, "--stop-after", "2")
    assert json.loads(out.splitlines()[-1]) == {"stopped": True, "run_dir": str(tmp_path / "lw")}
    # resumed in bf16 mixed precision: an execution setting, so the same run goes on
    recs = [json.loads(line) for line in run_lottery_cli(*flags, "--precision", "bf16").splitlines()]
    assert [r["round"] for r in recs] == [0, 1]


def test_baselines_from_the_run_lottery_cli(tmp_path, lottery_imp_run, lottery_photos):
    out = run_lottery_cli("prune", "--strategy", "oneshot-random", "--amount", "0.3", "--dense-run", lottery_imp_run,
              "--run-dir", tmp_path / "osr", "--json")
    rec = json.loads(out)
    assert rec["name"] == "PIR-OSR I" and rec["prunable_sparsity"] == pytest.approx(0.3, abs=1e-4)
    rec = json.loads(run_lottery_cli("prune", "--strategy", "reinit", "--ticket-run", lottery_imp_run,
                         "--run-dir", tmp_path / "re", "--json"))
    assert rec["kind"] == "reinit" and rec["ticket_round"] == 2
    # training flags override the ticket run's config (here: the thread count), the model may not change
    ticket_threads = json.loads((lottery_imp_run / "lottery.json").read_text())["train"]["threads"]
    run_lottery_cli("prune", "--strategy", "reinit", "--ticket-run", lottery_imp_run, "--run-dir", tmp_path / "re2",
                    "--threads", str(ticket_threads + 1), "--stop-after", "1", "--json")
    assert json.loads((tmp_path / "re2" / "config.json").read_text())["threads"] == ticket_threads + 1
    with pytest.raises(RestoreLabError, match="differs from the ticket"):
        run_lottery_cli("prune", "--strategy", "reinit", "--ticket-run", lottery_imp_run, "--run-dir", tmp_path / "re3",
                        "--model", "promptir-tiny")
    with pytest.raises(RestoreLabError, match="--dense-run"):
        run_lottery_cli("prune", "--strategy", "oneshot-magnitude", "--run-dir", tmp_path / "x")


def test_export_compact_and_card(tmp_path, lottery_imp_run):
    card = json.loads(run_lottery_cli("export", "--run-dir", lottery_imp_run, "--name", "mirl-test", "--weights-dir",
                                      tmp_path, "--command", "python -m restorelab prune x", "--json"))
    assert card["kind"] == "pruned" and card["preset"] == "promptir-test" and card["rounds"] == 2
    assert card["strategy"] == "global" and card["tasks"] == ["denoise_25"]
    on_disk = json.loads((tmp_path / "mirl-test.json").read_text())
    assert on_disk["nonzero_params"] == card["nonzero_params"] and len(on_disk["layers"]) > 0
    assert on_disk["commands"] == ["python -m restorelab prune x"] and on_disk["how"]["lottery"]["strategy"] == "global" and on_disk["train_config"]["model"] == "promptir-test"
    rounds = [json.loads(line) for line in (tmp_path / on_disk["rounds_file"]).read_text().splitlines()]
    assert [r["round"] for r in rounds] == [0, 1, 2] and rounds[-1]["nonzero_params"] == card["nonzero_params"]
    assert rounds[0]["sparsity"] == 0 < rounds[1]["sparsity"] < rounds[2]["sparsity"] and rounds[1]["layers"]
    model = load_compact(tmp_path / "mirl-test.safetensors")
    final = load_state(lottery_imp_run / "round_02" / "final.safetensors")
    assert all(torch.equal(v, final[n]) for n, v in model.state_dict().items())
    dense_card = json.loads(run_lottery_cli("export", "--run-dir", lottery_imp_run, "--round", "0", "--name", "d",
                                "--weights-dir", tmp_path, "--json"))
    assert dense_card["sparsity"] == 0 and dense_card["rounds"] == 0


def test_finetune_trains_a_ticket_further_under_its_mask(tmp_path, lottery_imp_run, lottery_tickets, monkeypatch):
    from restorelab.pruning import load_masks

    dense = lottery_imp_run / "round_00"
    rec = json.loads(run_lottery_cli("prune", "--strategy", "finetune", "--ticket-run", lottery_imp_run, "--teacher",
                                     dense, "--steps", "2", "--run-dir", tmp_path / "ft", "--json"))
    assert (rec["kind"], rec["round"], rec["strategy"], rec["teacher"]) == ("finetune", 2, "global", str(dense))
    ticket = load_masks(lottery_imp_run / "round_02" / "mask.safetensors")
    masks = load_masks(tmp_path / "ft" / "mask.safetensors")
    assert sorted(masks) == sorted(ticket) and all(torch.equal(masks[n], ticket[n]) for n in ticket)
    final, start = load_state(tmp_path / "ft" / "final.safetensors"), load_state(lottery_imp_run / "round_02" / "final.safetensors")
    assert all(not final[n][ticket[n] == 0].any() for n in ticket)  # pruned weights stay zero
    assert any(not torch.equal(final[n], start[n]) for n in ticket)  # the survivors trained on
    config = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert config["steps"] == 2 and config["teacher"] == str(dense) and config["init"] == str(lottery_imp_run)
    # exported, it takes the place of the ticket's last round
    (tmp_path / "w").mkdir()
    card = json.loads(run_lottery_cli("export", "--run-dir", tmp_path / "ft", "--name", "ft", "--weights-dir",
                                      tmp_path / "w", "--json"))
    assert (card["strategy"], card["rounds"], card["nonzero_params"]) == ("global", 2, rec["nonzero_params"])
    rounds = [json.loads(line) for line in (tmp_path / "w" / "ft.rounds.jsonl").read_text().splitlines()]
    assert [r["round"] for r in rounds] == [0, 1, 2] and rounds[-1]["kind"] == "finetune"
    assert card["how"]["lottery"]["strategy"] == "global" and card["how"]["finetune"]["baseline"]["kind"] == "finetune"
    # a shipped ticket by name; a dense model is refused
    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(lottery_tickets))
    rec = json.loads(run_lottery_cli("prune", "--strategy", "finetune", "--ticket-run", "mirl-g", "--steps", "1",
                                     "--run-dir", tmp_path / "ft2", "--json"))
    assert rec["kind"] == "finetune" and rec["teacher"] is None and rec["round"] == 2
    with pytest.raises(RestoreLabError, match="--ticket-run"):
        run_lottery_cli("prune", "--strategy", "finetune", "--run-dir", tmp_path / "ft3")


def test_imp_from_a_shipped_dense_model_with_prompts_prunable(tmp_path, lottery_imp_run, lottery_photos, monkeypatch):
    from restorelab.pruning import load_masks
    from restorelab.training.export import ship_dense

    ship_dense(lottery_imp_run / "round_00", "toy-dense", [], weights_dir=tmp_path / "w")
    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(tmp_path / "w"))
    flags = ["prune", "--strategy", "global", "--score", "lamp", "--rate", "0.5", "--rounds", "1",
             "--steps-per-round", "2", "--rewind-step", "-1", "--dense-run", "toy-dense", "--data-dir", lottery_photos,
             "--json"]
    recs = [json.loads(line) for line in run_lottery_cli(*flags, "--prune-prompts", "true",
                                                         "--run-dir", tmp_path / "p").splitlines()]
    assert [r["round"] for r in recs] == [0, 1]
    dense = tmp_path / "p" / "dense-toy-dense"
    assert recs[0]["dense_run"] == str(dense) and (dense / "final.safetensors").exists()
    assert json.loads((dense / "config.json").read_text())["model"] == "promptir-test"
    masks = load_masks(tmp_path / "p" / "round_01" / "mask.safetensors")
    prompts = [n for n in masks if n.endswith("prompt_param")]
    assert prompts and 0 < sum(int((masks[n] == 0).sum()) for n in prompts)  # the prompt banks lost entries
    card = json.loads(run_lottery_cli("export", "--run-dir", tmp_path / "p", "--name", "toy-pp", "--weights-dir",
                                      tmp_path / "w", "--json"))
    assert card["how"]["lottery"]["prune_prompts"] is True
    model, shipped = load_compact(tmp_path / "w" / "toy-pp.safetensors", with_masks=True)
    state = model.state_dict()
    assert all(torch.equal(shipped[n], masks[n]) and not state[n][masks[n] == 0].any() for n in prompts)
    # MIR-L's rule (the default): the prompt banks stay dense
    run_lottery_cli(*flags, "--run-dir", tmp_path / "q")
    assert not any(n.endswith("prompt_param") for n in load_masks(tmp_path / "q" / "round_01" / "mask.safetensors"))
    # a shipped model has no θ0 to rewind to; a ticket is not a dense model
    with pytest.raises(RestoreLabError, match="theta0"):
        run_lottery_cli(*[f if f != "-1" else "0" for f in flags], "--run-dir", tmp_path / "r")
    run_lottery_cli("export", "--run-dir", lottery_imp_run, "--name", "toy-ticket", "--weights-dir", tmp_path / "w")
    with pytest.raises(RestoreLabError, match="not a shipped dense model"):
        run_lottery_cli(*flags[:-5], "--dense-run", "toy-ticket", "--run-dir", tmp_path / "s")
