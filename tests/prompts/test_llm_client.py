"""The Ollama client against a fake Ollama over real HTTP: exact request bodies and every failure kind."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ai_worker.core.errors import LLMConnectionError, LLMResponseError, LLMTimeoutError
from ai_worker.prompts.llm_client import (
    OllamaClient,
    call_ollama_raw,
    generate_options,
    model_is_pulled,
    ollama_status,
    unload_model,
)
from config.settings import Settings, load_settings
from tests.fakes.fake_ollama import (
    GOOD_T2V,
    KOREAN,
    MODEL,
    MODEL_NOT_FOUND,
    NOT_JSON,
    SERVER_ERROR,
    FakeOllama,
    free_port,
    slow,
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as server:
        yield server


def settings_for(url: str, timeout: float = 5.0, model: str = MODEL) -> Settings:
    return load_settings(ollama_host=url, ollama_timeout=timeout, ollama_model=model)


async def test_generate_sends_exactly_the_documented_body(fake: FakeOllama) -> None:
    fake.script(GOOD_T2V)
    answer = await call_ollama_raw(
        "scene text",
        system="system rules",
        max_tokens=180,
        temperature=0.4,
        settings=settings_for(fake.url),
        keep_alive="10m",
    )
    assert answer == GOOD_T2V
    assert [(r.method, r.path) for r in fake.requests] == [("POST", "/api/generate")]
    assert fake.requests[0].body == {
        "model": MODEL,
        "prompt": "scene text",
        "system": "system rules",
        "stream": False,
        "options": {"num_predict": 180, "temperature": 0.4},
        "keep_alive": "10m",
    }


async def test_generate_leaves_out_system_and_keep_alive_when_not_given(fake: FakeOllama) -> None:
    fake.script("ok")
    assert await call_ollama_raw("p", settings=settings_for(fake.url)) == "ok"
    assert fake.requests[0].body == {
        "model": MODEL,
        "prompt": "p",
        "stream": False,
        "options": {"num_predict": 256, "temperature": 0.7},
    }


async def test_answer_text_is_returned_as_given(fake: FakeOllama) -> None:
    # The client does not judge content; the prompt engine does.
    fake.script(KOREAN)
    assert await call_ollama_raw("p", settings=settings_for(fake.url)) == KOREAN


async def test_unload_sends_keep_alive_zero_without_prompt(fake: FakeOllama) -> None:
    await unload_model(settings_for(fake.url))
    assert fake.requests[0].path == "/api/generate"
    assert fake.requests[0].body == {"model": MODEL, "stream": False, "keep_alive": 0}


async def test_one_client_serves_several_calls(fake: FakeOllama) -> None:
    fake.script("first", "second")
    async with OllamaClient(settings_for(fake.url)) as client:
        assert await client.generate("a") == "first"
        assert await client.generate("b", "sys", 120, 0.3) == "second"
    assert [r.body["prompt"] for r in fake.requests] == ["a", "b"]
    assert fake.requests[1].body["options"] == {"num_predict": 120, "temperature": 0.3}


async def test_http_500_is_a_response_error_with_the_servers_reason(fake: FakeOllama) -> None:
    fake.script(SERVER_ERROR)
    with pytest.raises(LLMResponseError, match=r"HTTP 500.*llama runner process has terminated"):
        await call_ollama_raw("p", settings=settings_for(fake.url))


async def test_missing_model_is_a_response_error(fake: FakeOllama) -> None:
    fake.script(MODEL_NOT_FOUND)
    with pytest.raises(LLMResponseError, match="HTTP 404"):
        await call_ollama_raw("p", settings=settings_for(fake.url))


async def test_a_body_that_is_not_ollamas_is_a_response_error(fake: FakeOllama) -> None:
    fake.script(NOT_JSON)
    with pytest.raises(LLMResponseError, match="not Ollama's"):
        await call_ollama_raw("p", settings=settings_for(fake.url))


async def test_slow_answer_past_the_timeout_is_a_timeout_error(fake: FakeOllama) -> None:
    fake.script(slow(30.0))
    with pytest.raises(LLMTimeoutError, match=r"within 0\.2 s"):
        await call_ollama_raw("p", settings=settings_for(fake.url, timeout=0.2))


async def test_connection_refused_is_a_connection_error() -> None:
    with pytest.raises(LLMConnectionError, match="cannot reach Ollama"):
        await call_ollama_raw("p", settings=settings_for(f"http://127.0.0.1:{free_port()}"))


async def test_status_reports_reachable_and_pulled(fake: FakeOllama) -> None:
    reachable, pulled, detail = await ollama_status(settings_for(fake.url))
    assert (reachable, pulled) == (True, True)
    assert MODEL in detail
    assert fake.requests[0].method == "GET" and fake.requests[0].path == "/api/tags"


async def test_status_says_how_to_pull_a_missing_model(fake: FakeOllama) -> None:
    reachable, pulled, detail = await ollama_status(settings_for(fake.url, model="llama3.1:8b"))
    assert (reachable, pulled) == (True, False)
    assert "ollama pull llama3.1:8b" in detail


async def test_status_when_nothing_listens() -> None:
    reachable, pulled, detail = await ollama_status(settings_for(f"http://127.0.0.1:{free_port()}"))
    assert (reachable, pulled) == (False, False)
    assert "cannot reach Ollama" in detail


def test_options_and_model_names() -> None:
    assert generate_options(180, 0.4) == {"num_predict": 180, "temperature": 0.4}
    assert model_is_pulled("qwen2.5:14b", ["qwen2.5:14b", "x:latest"])
    assert model_is_pulled("mistral", ["mistral:latest"])
    assert not model_is_pulled("qwen2.5:14b", ["qwen2.5:7b"])
    assert not model_is_pulled("qwen2.5:14b", [])
