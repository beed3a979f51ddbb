"""Storage adapters: the shared contract every adapter passes, run here on LocalStorage.

``StorageContract`` is the mixin (the ``implicit`` test-mixin shape): a test
class provides a ``storage`` fixture and inherits every test.
``tests/integration/test_publish_s3.py`` runs it against S3 on moto.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from alertrec.errors import OutputError
from alertrec.io import storage as storage_mod
from alertrec.io.storage import LocalStorage, S3Storage, Storage, s3_endpoint_url, storage_for


class StorageContract:
    """Behaviour every Storage must have. Subclasses provide a ``storage`` fixture."""

    def test_write_then_read_round_trips(self, storage: Storage):
        storage.write_bytes("a/b/c.bin", b"\x00\x01payload")
        assert storage.read_bytes("a/b/c.bin") == b"\x00\x01payload"
        assert storage.exists("a/b/c.bin")

    def test_write_replaces_whole_content(self, storage: Storage):
        storage.write_bytes("f.txt", b"a much longer first version")
        storage.write_bytes("f.txt", b"short")
        assert storage.read_bytes("f.txt") == b"short"

    def test_empty_file_is_written(self, storage: Storage):
        storage.write_bytes("dir/empty", b"")
        assert storage.exists("dir/empty")
        assert storage.read_bytes("dir/empty") == b""
        assert storage.list("dir") == ["dir/empty"]

    def test_read_missing_raises_file_not_found(self, storage: Storage):
        with pytest.raises(FileNotFoundError):
            storage.read_bytes("nope/missing.bin")

    def test_exists_is_false_for_missing_files_and_folders(self, storage: Storage):
        storage.write_bytes("d/x", b"1")
        assert not storage.exists("d/y")
        assert not storage.exists("d")

    def test_list_is_recursive_sorted_and_relative_to_the_root(self, storage: Storage):
        for rel in ["b/2", "a/z", "a/b/1", "ab/3", "top"]:
            storage.write_bytes(rel, rel.encode())
        assert storage.list() == ["a/b/1", "a/z", "ab/3", "b/2", "top"]
        assert storage.list("a") == ["a/b/1", "a/z"]  # a folder: "ab/3" is not under "a"
        assert storage.list("a/") == ["a/b/1", "a/z"]
        assert storage.list("a/b") == ["a/b/1"]
        assert storage.list("missing") == []

    def test_delete_removes_only_the_named_files_and_ignores_missing(self, storage: Storage):
        for rel in ["d/1", "d/2", "d/3"]:
            storage.write_bytes(rel, b"x")
        storage.delete(["d/1", "d/3", "d/never-existed"])
        assert storage.list("d") == ["d/2"]
        storage.delete([])
        assert storage.list("d") == ["d/2"]

    def test_delete_of_a_path_is_not_a_prefix_delete(self, storage: Storage):
        storage.write_bytes("p/file", b"x")
        storage.write_bytes("p/file2", b"y")
        storage.delete(["p/file"])
        assert storage.list("p") == ["p/file2"]

    def test_bad_relative_paths_are_refused(self, storage: Storage):
        for bad in ["/abs", "a/../b", "a//b", "", "./a"]:
            with pytest.raises(ValueError):
                storage.write_bytes(bad, b"x")

    def test_check_writable_passes_and_leaves_nothing_behind(self, storage: Storage):
        storage.check_writable()
        assert storage.list() == []

    def test_url_names_the_file_under_the_root(self, storage: Storage):
        root = storage.url()
        assert storage.url("a/b.txt") == root.rstrip("/") + "/a/b.txt"


class TestLocalStorage(StorageContract):
    @pytest.fixture()
    def storage(self, tmp_path) -> LocalStorage:
        return LocalStorage(tmp_path / "out")

    def test_files_land_under_the_root(self, storage: LocalStorage):
        storage.write_bytes("x/y.txt", b"hi")
        assert (storage.root / "x" / "y.txt").read_bytes() == b"hi"
        assert storage.url("x/y.txt") == str(storage.root / "x" / "y.txt")

    def test_no_temporary_files_are_left(self, storage: LocalStorage):
        storage.write_bytes("x/y.txt", b"1")
        storage.write_bytes("x/y.txt", b"2")
        assert sorted(p.name for p in (storage.root / "x").iterdir()) == ["y.txt"]

    def test_a_failed_write_keeps_the_old_file_whole(self, storage: LocalStorage, monkeypatch):
        storage.write_bytes("x/y.txt", b"old content")

        def failing_replace(src, dst):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(storage_mod.os, "replace", failing_replace)
        with pytest.raises(OutputError) as info:
            storage.write_bytes("x/y.txt", b"new content")
        assert "no space left on device" in str(info.value)
        assert "\n" not in str(info.value)
        monkeypatch.undo()
        assert storage.read_bytes("x/y.txt") == b"old content"
        assert storage.list("x") == ["x/y.txt"]  # the temporary file is gone

    def test_check_writable_creates_the_root(self, tmp_path):
        storage = LocalStorage(tmp_path / "new" / "deep")
        storage.check_writable()
        assert (tmp_path / "new" / "deep").is_dir()

    def test_check_writable_on_a_file_is_one_line(self, tmp_path):
        target = tmp_path / "out"
        target.write_text("i am a file")
        with pytest.raises(OutputError) as info:
            LocalStorage(target).check_writable()
        message = str(info.value)
        assert message == f"output folder {target} is a file, not a folder; pass a folder path"

    def test_check_writable_under_a_file_is_one_line(self, tmp_path):
        (tmp_path / "file").write_text("x")
        with pytest.raises(OutputError) as info:
            LocalStorage(tmp_path / "file" / "out").check_writable()
        assert str(info.value).startswith(f"cannot create output folder {tmp_path / 'file' / 'out'}: ")
        assert "\n" not in str(info.value)

    def test_check_writable_permission_denied_is_one_line(self, tmp_path, monkeypatch):
        root = tmp_path / "out"
        root.mkdir()

        def denied(self, data):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))

        monkeypatch.setattr(Path, "write_bytes", denied)
        with pytest.raises(OutputError) as info:
            LocalStorage(root).check_writable()
        assert str(info.value) == f"output folder {root} is not writable: permission denied"

    @pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores file modes")
    def test_check_writable_on_a_read_only_folder(self, tmp_path):
        root = tmp_path / "ro"
        root.mkdir()
        root.chmod(0o500)
        try:
            with pytest.raises(OutputError, match="permission denied"):
                LocalStorage(root).check_writable()
        finally:
            root.chmod(0o700)

    def test_write_under_a_file_is_an_output_error(self, storage: LocalStorage):
        storage.write_bytes("f", b"x")
        with pytest.raises(OutputError) as info:
            storage.write_bytes("f/child", b"y")
        assert "\n" not in str(info.value)

    def test_list_sees_leftover_temporary_files(self, storage: LocalStorage):
        # a crash inside write_bytes can leave a temporary file; listing must show it
        # so that the publish protocol's clean-up step removes it
        (storage.root / "d").mkdir(parents=True)
        (storage.root / "d" / ".part.parquet.tmp-dead").write_bytes(b"half")
        assert storage.list("d") == ["d/.part.parquet.tmp-dead"]


class TestStorageFor:
    def test_plain_paths_are_local(self, tmp_path):
        storage = storage_for(str(tmp_path / "w"))
        assert isinstance(storage, LocalStorage)
        assert storage.root == tmp_path / "w"

    def test_relative_paths_are_local_and_absolute(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        storage = storage_for("./warehouse")
        assert isinstance(storage, LocalStorage)
        assert storage.root == tmp_path / "warehouse"

    def test_path_objects_are_local(self, tmp_path):
        assert isinstance(storage_for(tmp_path), LocalStorage)

    def test_file_urls_are_local(self, tmp_path):
        storage = storage_for((tmp_path / "a b").as_uri())
        assert isinstance(storage, LocalStorage)
        assert storage.root == tmp_path / "a b"

    def test_s3_urls_are_s3(self):
        storage = storage_for("s3://my-bucket/some/prefix/")
        assert isinstance(storage, S3Storage)
        assert (storage.bucket, storage.prefix) == ("my-bucket", "some/prefix")
        assert storage.url("recommendations/dt=2026-02-01/_SUCCESS") == (
            "s3://my-bucket/some/prefix/recommendations/dt=2026-02-01/_SUCCESS"
        )
        assert storage_for("s3://my-bucket").url("x") == "s3://my-bucket/x"

    def test_s3_session_is_kept(self):
        sentinel = object()
        assert storage_for("s3://b-1/p", boto3_session=sentinel).boto3_session is sentinel

    @pytest.mark.parametrize("url", ["gs://bucket/x", "hdfs://nn/warehouse", "https://example.com/x", "s3a://b/p"])
    def test_other_schemes_are_refused_in_one_line(self, url):
        with pytest.raises(OutputError) as info:
            storage_for(url)
        assert str(info.value).startswith("unsupported output scheme")
        assert "\n" not in str(info.value)

    @pytest.mark.parametrize("url", ["", "s3://", "s3:///prefix", "file://otherhost/x"])
    def test_malformed_locations_are_refused(self, url):
        with pytest.raises(OutputError):
            storage_for(url)


class TestEndpoint:
    def test_s3_specific_variable_wins(self, monkeypatch):
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://generic:1")
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://s3-only:2")
        assert s3_endpoint_url() == "http://s3-only:2"
        assert S3Storage("s3://b-1/p").endpoint_url == "http://s3-only:2"

    def test_generic_variable_is_the_fallback(self, monkeypatch):
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://generic:1")
        monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
        assert s3_endpoint_url() == "http://generic:1"

    def test_none_means_aws(self, monkeypatch):
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "")
        assert s3_endpoint_url() is None
