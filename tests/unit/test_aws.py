"""alertrec.io.aws: endpoints, retry settings, error phrases and the retry loop, without a server."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, IncompleteReadError, NoCredentialsError

from alertrec.errors import OutputError
from alertrec.io import aws


def client_error(code: str, status: int, message: str = "") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


class TestEndpoints:
    def test_the_service_variable_wins_over_the_generic_one(self, monkeypatch):
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://generic:1")
        monkeypatch.setenv("AWS_ENDPOINT_URL_GLUE", "http://glue:3")
        monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
        assert aws.endpoint_url("glue") == "http://glue:3"
        assert aws.endpoint_url("s3") == "http://generic:1"
        assert aws.endpoint_env("s3") == ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")

    def test_a_client_gets_the_endpoint_and_the_retries(self, monkeypatch):
        monkeypatch.setenv("AWS_ENDPOINT_URL_GLUE", "http://glue:3")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        glue = aws.client("glue", retries={"mode": "adaptive", "max_attempts": 4})
        assert glue.meta.endpoint_url == "http://glue:3"
        assert glue.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 4}


class TestRetrySettings:
    def test_defaults_and_variables(self, monkeypatch):
        monkeypatch.delenv("AWS_RETRY_MODE", raising=False)
        monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
        assert aws.retry_settings() == {"mode": "standard", "max_attempts": 8}
        monkeypatch.setenv("AWS_RETRY_MODE", "legacy")
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
        assert aws.retry_settings() == {"mode": "legacy", "max_attempts": 2}
        assert aws.retry_settings("adaptive", 5) == {"mode": "adaptive", "max_attempts": 5}

    @pytest.mark.parametrize("mode, attempts", [("fast", 3), ("standard", 0), ("standard", True)])
    def test_bad_settings_are_output_errors(self, mode, attempts):
        with pytest.raises(OutputError):
            aws.retry_settings(mode, attempts)

    def test_a_non_number_in_the_variable_is_named(self, monkeypatch):
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "many")
        with pytest.raises(OutputError, match="AWS_MAX_ATTEMPTS must be a whole number, got 'many'"):
            aws.retry_settings()


class TestErrors:
    @pytest.mark.parametrize(
        "exc, phrase",
        [
            (client_error("NoSuchBucket", 404), "bucket does not exist"),
            (client_error("AccessDenied", 403), "access denied"),
            (client_error("ExpiredToken", 400), "credentials rejected (ExpiredToken)"),
            (
                client_error("SlowDown", 503, "Please reduce your request rate."),
                "SlowDown: Please reduce your request rate.",
            ),
            (NoCredentialsError(), "no AWS credentials found"),
            (aws.PartialFailure([("k1", "AccessDenied")]), "access denied"),
            (aws.PartialFailure([("k1", "InternalError"), ("k2", "InternalError")]), "InternalError on k1"),
            (ValueError("bad\nsecond line"), "ValueError: bad"),
        ],
    )
    def test_describe_gives_one_short_phrase(self, exc, phrase):
        assert aws.describe(exc) == phrase

    def test_codes_the_callers_act_on(self):
        assert aws.is_not_found(client_error("NoSuchKey", 404)) and aws.is_not_found(client_error("404", 404))
        assert not aws.is_not_found(client_error("NoSuchBucket", 404))
        assert aws.is_precondition_failed(client_error("PreconditionFailed", 412))
        assert aws.is_conflict(client_error("ConditionalRequestConflict", 409))
        assert aws.is_entity_not_found(client_error("EntityNotFoundException", 400))
        assert aws.is_already_exists(client_error("AlreadyExistsException", 400))
        assert aws.error_code(ValueError()) == ("", None)
        assert aws.is_cut_off_read(IncompleteReadError(actual_bytes=1, expected_bytes=2))

    def test_a_partial_failure_is_retryable_only_when_every_key_is(self):
        assert aws.PartialFailure([("a", "InternalError"), ("b", "SlowDown")]).retryable
        assert not aws.PartialFailure([("a", "InternalError"), ("b", "AccessDenied")]).retryable
        assert str(aws.PartialFailure([("a", "SlowDown"), ("b", "SlowDown")])) == "SlowDown on 2 object(s)"


class TestWithRetries:
    def test_retryable_failures_are_tried_again_with_backoff(self):
        answers = [IncompleteReadError(actual_bytes=1, expected_bytes=2), ConnectionError("x"), "done"]
        waits: list[float] = []

        def call() -> str:
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

        result = aws.with_retries(call, attempts=5, retryable=lambda e: True, what="test", sleep=waits.append)
        assert result == "done" and len(waits) == 2 and all(0 <= w <= 5.0 for w in waits)

    def test_a_failure_that_is_not_retryable_is_raised_at_once(self):
        calls = []

        def call() -> None:
            calls.append(1)
            raise client_error("AccessDenied", 403)

        with pytest.raises(ClientError):
            aws.with_retries(call, attempts=5, retryable=aws.is_cut_off_read, what="test", sleep=lambda s: None)
        assert calls == [1]

    def test_the_last_failure_is_raised_after_the_attempts(self):
        calls = []

        def call() -> None:
            calls.append(1)
            raise IncompleteReadError(actual_bytes=1, expected_bytes=2)

        with pytest.raises(IncompleteReadError):
            aws.with_retries(call, attempts=3, retryable=aws.is_cut_off_read, what="test", sleep=lambda s: None)
        assert len(calls) == 3
