"""Every flag of a configuration field states the model's default, and leaves the value to it."""

import argparse

import pytest

from evonas.cli import build_parser
from evonas.cli.options import default_text, literal_choices, model_default
from evonas.cli.train import METHODS, finetune_help
from evonas.training.options import FLAGS, FinetuneConfig
from evonas.values import Augmentation


def _actions(parser: argparse.ArgumentParser) -> dict[tuple[str, str], argparse.Action]:
    """(command, flag) -> action, over every subcommand (and sub-subcommand)."""
    out = {}

    def walk(p, name):
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    walk(sub, f"{name} {sub_name}".strip())
            for flag in action.option_strings:
                out[(name, flag)] = action

    walk(parser, "")
    return out


def test_every_model_flag_states_the_models_default_and_leaves_the_value_to_it():
    held = 0
    for (command, flag), action in _actions(build_parser()).items():
        made = getattr(action, "model_flag", None)
        if made is None:
            continue
        default = model_default(made.model, made.field)
        # argparse must not decide: a left-out flag is None, so the model's default applies
        assert action.default is None, (command, flag)
        if default is not None and not isinstance(default, bool):
            assert f"(default: {default_text(default)})" in action.help, (command, flag, action.help)
        choices = literal_choices(made.model.model_fields[made.field].annotation)
        assert choices is None or tuple(action.choices) == choices, (command, flag)
        held += 1
    # the flags of nas run, nas resume and nas train that set model fields: all of them held
    assert held >= 35, held


@pytest.mark.parametrize("field", sorted(FLAGS))
def test_every_fine_tuning_flag_states_each_methods_own_default(field):
    text = finetune_help(field)
    for method in METHODS:
        value = getattr(FinetuneConfig.for_method(method, Augmentation()), field)
        if field == "augment":
            assert ("medium" if method == "edcwrn" else "the bundle's recipe") in text
        else:
            assert default_text(value) in text, (field, method, text)


def test_nas_train_left_to_its_defaults_is_trainoptions_defaults():
    from evonas.cli.train import train_options
    from evonas.training.options import TrainOptions

    args = build_parser().parse_args(["train", "somewhere"])
    assert train_options(args) == TrainOptions()
    args = build_parser().parse_args(["train", "x", "--epochs", "3", "--finetune", "idec", "--kernel-a", "2"])
    opts = train_options(args)
    assert opts.epochs == 3 and opts.finetune_options == {"kernel_a": 2.0}
