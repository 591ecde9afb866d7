"""Moving every stored image between backends (python -m viba.commands.move_images), against the
test database and moto's S3 server: verified, resumable, and never changing the source."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from viba.accounts import auth
from viba.commands import move_images
from viba.store.image_store import ImageStore, StorageError, make_backend, thumb_key_for

from fake_gemini import png_bytes
from helpers import ROOT, add


@pytest.fixture()
def images(db, tmp_path, admin):
    """Five images in the database store, each referred to by a generation of the admin."""
    store = ImageStore(make_backend("db", db, tmp_path))
    keys = [store.save(png_bytes(f"move-{tmp_path.name}-{i}"), "image/png").key for i in range(5)]
    add(db, admin, outputs=keys)
    return keys


def move_command(env: dict[str, str], target: str) -> subprocess.CompletedProcess:
    """`python -m viba.commands.move_images --to target` as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "viba.commands.move_images", "--to", target],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def s3(db, tmp_path, prefix):
    return make_backend(f"s3://viba-test/{prefix}", db, tmp_path)


def test_db_to_s3_and_back_copies_every_image_and_thumbnail_verified(s3_env, db, tmp_path, images):
    source = make_backend("db", db, tmp_path)
    target = s3(db, tmp_path, tmp_path.name)
    seen: list = []
    report = move_images.move(source, target, images, progress=lambda r: seen.append(r.done))
    assert (report.copied, report.already, report.failures) == (10, 0, [])
    assert sorted(seen) == [2, 4, 6, 8, 10]
    for key in images:
        assert hashlib.sha256(target.get(key)).hexdigest() in key
        assert target.get(thumb_key_for(key)) == source.get(thumb_key_for(key))
    # And back into a fresh folder store: every byte the same.
    folder = make_backend(f"local:{tmp_path / 'back'}", db, tmp_path)
    back = move_images.move(target, folder, images)
    assert back.copied == 10 and all(folder.get(k) == source.get(k) for k in images)


def test_an_upload_not_prepared_yet_is_copied_alone(db, tmp_path, images):
    source = make_backend("db", db, tmp_path)
    store = ImageStore(source)
    upload = store.save_upload(b"GIF89a" + tmp_path.name.encode(), "image/gif").key
    target = make_backend(f"local:{tmp_path / 'to'}", db, tmp_path)
    report = move_images.move(source, target, [upload, images[0]])
    assert (report.total, report.copied, report.failures) == (3, 3, [])
    assert target.get(upload) == source.get(upload)
    assert not target.exists(thumb_key_for(upload))  # an upload has no thumbnail to copy


def test_a_second_run_goes_on_where_the_first_stopped(s3_env, db, tmp_path, images):
    source = make_backend("db", db, tmp_path)
    target = s3(db, tmp_path, tmp_path.name)
    first = move_images.move(source, target, images[:2])  # as if it stopped there
    assert first.copied == 4
    second = move_images.move(source, target, images)
    assert (second.copied, second.already) == (6, 4)


def test_damaged_copies_are_found_and_damaged_sources_refused(s3_env, db, tmp_path, images):
    source = make_backend("db", db, tmp_path)
    target = s3(db, tmp_path, tmp_path.name)
    move_images.move(source, target, images)
    target.put(images[0], b"not the same bytes", "image/png")  # damaged in the target
    plain = move_images.move(source, target, images)
    assert plain.already == 10  # trusted without --verify-existing
    checked = move_images.move(source, target, images, verify_existing=True)
    assert (checked.copied, checked.already) == (1, 9)
    assert hashlib.sha256(target.get(images[0])).hexdigest() in images[0]
    # A source whose bytes do not match their key is not copied anywhere.
    broken = make_backend(f"local:{tmp_path / 'broken'}", db, tmp_path)
    broken.put(images[1], b"rotten", "image/png")
    elsewhere = make_backend(f"local:{tmp_path / 'elsewhere'}", db, tmp_path)
    report = move_images.move(broken, elsewhere, images[1:2])
    assert report.copied == 0 and "damaged in the source" in report.failures[0]


def test_a_missing_thumbnail_is_made_anew(s3_env, db, tmp_path, images):
    source = make_backend("db", db, tmp_path)
    source.delete(thumb_key_for(images[0]))
    target = s3(db, tmp_path, tmp_path.name)
    report = move_images.move(source, target, images[:1])
    assert report.thumbnails_made == 1 and not report.failures
    assert target.get(thumb_key_for(images[0]))[:4] == b"RIFF"  # a WEBP


def test_the_command_moves_everything_and_says_what_to_set(s3_env, empty_database_url, tmp_path):
    from viba.store.db import Database

    db = Database(empty_database_url)
    db.migrate()
    owner = auth.register(db, "mover@example.com", "Mo Ver", "move-pass-42")
    store = ImageStore(make_backend("db", db, tmp_path))
    images = [store.save(png_bytes(f"cli-{i}"), "image/png").key for i in range(3)]
    add(db, owner, outputs=images)
    env = {
        **os.environ,
        "DATABASE_URL": empty_database_url,
        "VIBA_STORAGE": "db",
        "VIBA_DATA_DIR": str(tmp_path),
        "VIBA_SECRETS_FILE": str(tmp_path / "none.toml"),
    }
    target = f"s3://viba-test/cli-{tmp_path.name}"
    run = move_command(env, target)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"Set VIBA_STORAGE={target}" in run.stdout
    assert "0 failed" in run.stdout and "[##############################]" in run.stderr
    moved = make_backend(target, db, tmp_path)
    assert all(moved.exists(k) and moved.exists(thumb_key_for(k)) for k in images)
    again = move_command(env, target)
    assert again.returncode == 0 and " 0 copied and verified" in again.stdout


def test_a_wrong_target_is_one_sentence(db, tmp_path):
    with pytest.raises(StorageError, match="not understood"):
        make_backend("ftp://nowhere", db, tmp_path)
    run = move_command({**os.environ, "VIBA_DATA_DIR": str(tmp_path)}, "ftp://nowhere")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "is not understood" in run.stderr
