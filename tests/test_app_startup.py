"""The real app (``python app.py``) started with a teaching database it cannot open: one line in the
console's language, a non-zero exit, no traceback and never the URL's password."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app_fixtures import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "s3cret-db-pw"
#: (URL, what the English line names, what the Chinese line names): a driver that is not installed
#: (MySQLdb is not in the app's environment) and a PostgreSQL server that does not answer (port 1).
BAD_DATABASES = [
    (f"mysql+mysqldb://teacher:{PASSWORD}@localhost/teaching", ["not installed", "MySQLdb"], ["未安装", "MySQLdb"]),
    (f"postgresql+psycopg://teacher:{PASSWORD}@127.0.0.1:1/teaching", ["cannot be opened", "server running"],
     ["无法打开", "服务器"]),
]


def start_app(data_dir: Path, lang: str, *options: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MEDREGA_")}
    return subprocess.run(
        [sys.executable, "app.py", "--port", str(free_port()), "--data-dir", str(data_dir), "--lang", lang, *options],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("database_url, english, chinese", BAD_DATABASES)
def test_a_database_the_app_cannot_open_stops_it_with_one_clear_line(tmp_path: Path, database_url: str,
                                                                     english: list[str], chinese: list[str],
                                                                     lang: str) -> None:
    finished = start_app(tmp_path / "data", lang, "--teaching-db", database_url)
    output = finished.stdout + finished.stderr
    assert finished.returncode == 2, output
    assert "Traceback" not in output and PASSWORD not in output
    (line,) = [text for text in output.splitlines() if text.strip()]
    assert database_url.split("://")[0] + "://teacher:***@" in line
    assert all(words in line for words in (english if lang == "en" else chinese)), line


@pytest.mark.parametrize("lang, words", [("en", "cannot be created or written"), ("zh", "无法创建或写入")])
def test_a_data_folder_the_app_cannot_make_stops_it_with_one_clear_line(tmp_path: Path, lang: str, words: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    finished = start_app(blocker / "data", lang)  # a folder inside a file cannot be made
    output = finished.stdout + finished.stderr
    assert finished.returncode == 2 and "Traceback" not in output, output
    (line,) = [text for text in output.splitlines() if text.strip()]
    assert words in line and str(blocker / "data") in line and "--data-dir" in line
