import pytest

from evonas.cli import build_parser
from evonas.cli.search import run_overrides as _run_overrides
from evonas.errors import ConfigError
from evonas.nas import build_config


def test_defaults_are_a_small_digits_search():
    cfg = build_config()
    assert cfg.dataset.name == "digits" and cfg.population == 10 and cfg.generations == 5
    assert cfg.n_offspring == cfg.population


def test_file_then_flags(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text("population = 6\nseed = 4\n[budget]\nepochs = 3\nlr = 0.01\n")
    cfg = build_config(toml, {"seed": 9, "budget": {"epochs": 7}})
    assert (cfg.population, cfg.seed, cfg.budget.epochs, cfg.budget.lr) == (6, 9, 7, 0.01)


def test_yaml_file(tmp_path):
    yml = tmp_path / "run.yaml"
    yml.write_text("generations: 2\nsearch_space:\n  max_channels: 16\n")
    cfg = build_config(yml)
    assert cfg.generations == 2 and cfg.search_space is not None and cfg.search_space.max_channels == 16


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"population": 1}, "The 'population' option must be greater than or equal to 2. Got 1 instead."),
        (
            {"budget": {"epochs": 0}},
            "The 'budget.epochs' option must be greater than or equal to 1. Got 0 instead.",
        ),
        (
            {"selection": "x"},
            "The 'selection' option must be 'best', 'tournament' or 'nsga2'. Got \"x\" instead.",
        ),
        ({"popsize": 3}, "Unknown option 'popsize'."),
        ({"elites": 20}, "elites must be <= population. Got 20 > 10 instead."),
    ],
)
def test_bad_values_give_one_line_naming_option_constraint_and_value(overrides, message):
    with pytest.raises(ConfigError) as info:
        build_config(overrides=overrides)
    assert str(info.value).endswith(message)
    assert "\n" not in str(info.value)


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        build_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("population = = 3")
    with pytest.raises(ConfigError, match="Cannot parse"):
        build_config(bad)
    ini = tmp_path / "x.ini"
    ini.write_text("a=1")
    with pytest.raises(ConfigError, match=r"\.toml, \.yaml or \.yml"):
        build_config(ini)


def test_budget_flags_override_the_file_and_leave_the_rest(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text("[budget]\nepochs = 3\nbatch_size = 32\n")
    args = build_parser().parse_args(["run", "--config", str(toml), "--lr", "0.001"])
    cfg = build_config(toml, _run_overrides(args))
    assert (cfg.budget.epochs, cfg.budget.batch_size, cfg.budget.lr) == (3, 32, 0.001)
    args = build_parser().parse_args(["run", "--epochs", "8"])
    assert build_config(None, _run_overrides(args)).budget.lr == build_config().budget.lr
