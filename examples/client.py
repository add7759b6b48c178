"""Drive examples/serve.py with the real ``openai`` client: a chat call, a stream, an embedding.

Run it under ``opentelemetry-instrument`` too, so the client spans (``infertel_openai``) and the
server spans land in one trace::

    OTEL_SERVICE_NAME=example-client opentelemetry-instrument python examples/client.py --port 8000
"""

from __future__ import annotations

import argparse

from openai import OpenAI


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Call the example inference server with the openai client.")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", default="synthetic-llm")
    args = parser.parse_args(argv)

    client = OpenAI(base_url=f"http://127.0.0.1:{args.port}/v1", api_key="dummy")
    messages = [{"role": "user", "content": "Say something about observability."}]

    reply = client.chat.completions.create(model=args.model, messages=messages, max_tokens=12)  # type: ignore[arg-type]
    print("chat:", reply.choices[0].message.content, reply.usage)

    stream = client.chat.completions.create(
        model=args.model,
        messages=messages,  # type: ignore[arg-type]
        max_tokens=12,
        stream=True,
        stream_options={"include_usage": True},
    )
    print("stream:", end=" ")
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            print(chunk.choices[0].delta.content, end="", flush=True)
        if chunk.usage:
            print("\nusage:", chunk.usage)

    embedding = client.embeddings.create(model="synthetic-embed", input=["hello", "world"])
    print("embeddings:", len(embedding.data), "vectors of", len(embedding.data[0].embedding))


if __name__ == "__main__":
    main()
