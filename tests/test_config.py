"""Config validation: unknown keys and bad values stop the run with file, key and rule."""

import pytest
import yaml

from pipeline.config import load_grid, load_project
from pipeline.validation import ConfigError
from tests.conftest import REPO_ROOT, TINY_GRID, write_project


def test_repository_params_and_grids_are_valid():
    project = load_project(REPO_ROOT / "params.yaml")
    for name in project.params.profiles:
        grid = load_grid(project.path(project.params.profiles[name].grid))
        assert grid.name == name


def test_unknown_key_names_file_and_key(tmp_path, synthetic_data_dir):
    path = write_project(tmp_path, synthetic_data_dir)
    params = yaml.safe_load(path.read_text())
    params["training"] = {"learning_rat": 0.1}
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(ConfigError) as error:
        load_project(path)
    assert str(path) in str(error.value)
    assert "training.learning_rat: unknown key" in str(error.value)


def test_bad_value_names_key_value_and_allowed(tmp_path, synthetic_data_dir):
    grid = {**TINY_GRID, "cnn": {**TINY_GRID["cnn"], "axes": {"pooling": ["max", "maxx"]}}}
    write_project(tmp_path, synthetic_data_dir, grid=grid)
    with pytest.raises(ConfigError) as error:
        load_grid(tmp_path / "grid.yaml")
    message = str(error.value)
    assert "grid.yaml" in message
    assert "cnn.axes.pooling.1 = 'maxx'" in message
    assert "'max', 'avg' or 'none'" in message


def test_unknown_profile_lists_the_defined_ones(tmp_path, synthetic_data_dir):
    path = write_project(tmp_path, synthetic_data_dir)
    params = yaml.safe_load(path.read_text())
    params["profile"] = "huge"
    path.write_text(yaml.safe_dump(params))
    expected = r"profile 'huge' is not defined; choose one of \['tiny'\]"
    with pytest.raises(ConfigError, match=expected):
        load_project(path)


def test_cli_reports_config_error_without_traceback(tmp_path, synthetic_data_dir, capsys):
    from pipeline.cli import main

    path = write_project(tmp_path, synthetic_data_dir, epochs=0)
    assert main(["--params", str(path), "plan"]) == 2
    assert "profiles.tiny.epochs = 0" in capsys.readouterr().err.replace("\n", " ")
