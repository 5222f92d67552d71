"""The load itself: simulated reviewers, ingest at a fixed rate, an export and baseline probes, all timed
(bench/load.py runs it)."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench._harness import percentile
from bench._load_setup import (
    CSRF_INPUT,
    EXPORT_AT,
    EXPORT_GRACE_S,
    FAILURES,
    PASSWORD,
    PROXY_HEADER,
    PUSHED_ITEM,
    QUEUE,
    REQUEST_TIMEOUT_S,
    SEED,
    VERDICTS,
    Params,
    Setup,
    reviewer_name,
)

# --- The load -----------------------------------------------------------------------------------


@dataclass
class Hold:
    reviewer: int
    start: float
    end: float | None = None


@dataclass
class Load:
    """The window: ingest, reviewers, the export and the baseline probe, all on one event loop."""

    p: Params
    setup: Setup
    ports: list[int]
    bodies: list[bytes]
    t0: float = 0.0
    deadline: float = 0.0
    samples: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    holds: dict[int, list[Hold]] = field(default_factory=lambda: defaultdict(list))
    held: dict[int, dict[int, Hold]] = field(default_factory=lambda: defaultdict(dict))  # reviewer → item → open
    decided: int = 0
    accepted: int = 0
    empty: int = 0
    switched: int = 0
    send_lag_ms: list[float] = field(default_factory=list)
    export: dict[str, Any] = field(default_factory=dict)

    def client(self, port: int, **kwargs: Any) -> httpx.AsyncClient:
        # What a TLS-terminating proxy and a browser add: the scheme, and the Origin of every request.
        headers = {PROXY_HEADER: "https", "Origin": f"https://127.0.0.1:{port}"}
        client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers=headers,
            timeout=REQUEST_TIMEOUT_S,
            follow_redirects=False,
            **kwargs,
        )

        async def plain_http_cookies(response: httpx.Response) -> None:
            # The session and CSRF cookies are Secure (the server sees https); the hop to it is plain http.
            for cookie in client.cookies.jar:
                cookie.secure = False

        client.event_hooks["response"] = [plain_http_cookies]
        return client

    async def call(
        self,
        client: httpx.AsyncClient,
        name: str,
        method: str,
        url: str,
        *,
        expect: tuple[int, ...] = (200,),
        **kw: Any,
    ) -> httpx.Response | None:
        """One request; its latency when it is in the window and answered as expected, else an error by kind."""
        start = time.monotonic()
        try:
            answer = await client.request(method, url, **kw)
        except httpx.TimeoutException:
            self.errors[f"{name}: timeout"] += 1
            return None
        except httpx.HTTPError as exc:
            self.errors[f"{name}: {type(exc).__name__}"] += 1
            return None
        if answer.status_code not in expect:
            self.errors[f"{name}: HTTP {answer.status_code}"] += 1
            return None
        if self.t0 <= start < self.deadline:
            self.samples[name].append((start - self.t0, 1000 * (time.monotonic() - start)))
        return answer

    # --- reviewers

    async def sign_in(self, client: httpx.AsyncClient, index: int) -> bool:
        page = await self.call(client, "login", "GET", "/login/")
        token = CSRF_INPUT.search(page.text) if page is not None else None
        if page is not None and token is None:
            self.errors["login: no CSRF token on the page"] += 1
        if token is None:
            return False
        form = {"username": reviewer_name(index), "password": PASSWORD, "csrfmiddlewaretoken": token[1]}
        return await self.call(client, "login", "POST", "/login/", expect=(302,), data=form) is not None

    def htmx(self, client: httpx.AsyncClient) -> dict[str, str]:
        return {"HX-Request": "true", "X-CSRFToken": client.cookies.get("csrftoken") or ""}

    def handed(self, answer: httpx.Response | None, reviewer: int) -> int | None:
        """The item an answer put in front of the reviewer (HX-Push-Url), logged as held from now."""
        if answer is None:
            return None
        match = PUSHED_ITEM.search(answer.headers.get("HX-Push-Url", ""))
        if match is None:
            self.empty += 1  # the queue had nothing for this reviewer
            return None
        item, mine = int(match[1]), self.held[reviewer]
        if item not in mine:
            if mine:
                self.switched += 1  # handed a new item while a leased one was still theirs
            mine[item] = Hold(reviewer, time.monotonic())
            self.holds[item].append(mine[item])
        return item

    async def review(self, client: httpx.AsyncClient, index: int) -> None:
        rng = random.Random(f"{SEED}-{index}")
        while time.monotonic() < self.deadline:
            claimed = await self.call(client, "claim", "POST", f"/queues/{QUEUE}/next/", headers=self.htmx(client))
            item = self.handed(claimed, index)
            if item is None:
                await asyncio.sleep(0.5)  # an error or an empty queue: don't spin
                continue
            await asyncio.sleep(rng.uniform(*self.p.think))
            if time.monotonic() >= self.deadline:
                break
            verdict = rng.choice(VERDICTS)
            form = {
                "verdict": verdict,
                "severity": str(rng.randint(0, 4)),
                "rationale": "load bench",
                "preferred_response": "A better answer." if verdict in FAILURES else "",
                "seconds": str(rng.randint(5, 120)),
            }
            sent = time.monotonic()
            answer = await self.call(
                client, "decide", "POST", f"/items/{item}/decide/", data=form, headers=self.htmx(client)
            )
            if answer is None:
                continue
            self.decided += 1
            self.held[index].pop(item).end = sent
            self.handed(answer, index)

    # --- ingest, export, baseline

    async def ingest(self, client: httpx.AsyncClient) -> None:
        interval = self.p.batch / self.p.rate
        headers = {"Authorization": f"Bearer {self.setup.ingest_token}", "Content-Type": "application/json"}
        sent: list[asyncio.Task[None]] = []
        for k, body in enumerate(self.bodies):
            at = self.t0 + k * interval
            if at >= self.deadline:
                break
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            self.send_lag_ms.append(1000 * max(0.0, time.monotonic() - at))
            sent.append(asyncio.create_task(self.ingest_one(client, body, headers)))
        await asyncio.gather(*sent)

    async def ingest_one(self, client: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> None:
        answer = await self.call(
            client, "ingest", "POST", "/api/v1/conversations", expect=(202,), content=body, headers=headers
        )
        if answer is not None:
            accepted = int(answer.json()["accepted"])
            self.accepted += accepted
            if accepted != self.p.batch:
                self.errors["ingest: accepted fewer than sent"] += 1

    async def probe(self, clients: list[httpx.AsyncClient]) -> None:
        """The baseline: GET /login/ on schedule, round robin over the servers, each in its own task."""
        sent: list[asyncio.Task[Any]] = []
        for k in range(int(self.p.seconds * self.p.probe_rate)):
            await asyncio.sleep(max(0.0, self.t0 + k / self.p.probe_rate - time.monotonic()))
            sent.append(asyncio.create_task(self.call(clients[k % len(clients)], "baseline", "GET", "/login/")))
        await asyncio.gather(*sent)

    async def run_export(self, client: httpx.AsyncClient) -> None:
        await asyncio.sleep(max(0.0, self.t0 + EXPORT_AT * self.p.seconds - time.monotonic()))
        headers = {"Authorization": f"Bearer {self.setup.export_token}"}
        started = time.monotonic()
        body = {"kind": "eval", "format": "jsonl"}
        answer = await self.call(
            client, "export", "POST", "/api/v1/datasets", expect=(202,), json=body, headers=headers
        )
        if answer is None:
            return
        dataset = answer.json()["id"]
        self.export = {"id": dataset, "started_s": started - self.t0}
        while time.monotonic() < self.deadline + EXPORT_GRACE_S:
            await asyncio.sleep(1.0)
            polled = await self.call(client, "export poll", "GET", f"/api/v1/datasets/{dataset}", headers=headers)
            if polled is None:
                continue
            state = polled.json()
            if state["status"] == "ready":
                self.export |= {"rows": state["row_count"], "seconds": time.monotonic() - started}
                return
            if state["status"] in ("failed", "cancelled"):
                self.errors[f"export: {state['status']}"] += 1
                self.export["error"] = state["error"]
                return
        self.errors["export: not ready within the grace after the window"] += 1

    async def progress(self) -> None:
        shown = 0
        while time.monotonic() < self.deadline:
            await asyncio.sleep(max(0.0, min(self.p.slice_s, self.deadline - time.monotonic())))
            now = time.monotonic() - self.t0
            recent = {n: [ms for t, ms in s if t >= now - self.p.slice_s] for n, s in self.samples.items()}
            p99 = ", ".join(f"{n} p99 {percentile(v, 99):.0f} ms" for n, v in recent.items() if v and n != "login")
            print(
                f"  {now:5.0f}s  {self.decided - shown} decisions  {sum(self.errors.values())} errors  {p99}",
                flush=True,
            )
            shown = self.decided

    async def run(self) -> None:
        reviewers = [self.client(self.ports[i % len(self.ports)]) for i in range(self.p.reviewers)]
        others = [self.client(port) for port in self.ports]
        ingest = self.client(self.ports[0], limits=httpx.Limits(max_connections=1000))
        try:
            gate = asyncio.Semaphore(2 * len(self.ports))  # each login hashes a password: don't queue 50 at once

            async def sign_in(index: int) -> bool:
                async with gate:
                    return await self.sign_in(reviewers[index], index)

            print(f"signing in {self.p.reviewers} reviewers ...", flush=True)
            signed = await asyncio.gather(*(sign_in(i) for i in range(self.p.reviewers)))
            self.t0 = time.monotonic()
            self.deadline = self.t0 + self.p.seconds
            print(f"window: {self.p.seconds:.0f}s ({sum(signed)} reviewers signed in)", flush=True)
            await asyncio.gather(
                *(self.review(client, i) for i, client in enumerate(reviewers) if signed[i]),
                self.ingest(ingest),
                self.probe(others),
                self.run_export(others[-1]),
                self.progress(),
            )
        finally:
            for client in [*reviewers, *others, ingest]:
                await client.aclose()

    def double_claims(self) -> list[tuple[int, int, int]]:
        """(item, reviewer, reviewer) for every two holds of one item by different reviewers that overlap."""
        end_of_run = time.monotonic()
        found = []
        for item, holds in self.holds.items():
            spans = sorted(
                (h.start, h.end if h.end is not None else min(end_of_run, h.start + self.setup.lease_s), h.reviewer)
                for h in holds
            )
            for i, (_, end_a, who_a) in enumerate(spans):
                found += [
                    (item, who_a, who_b) for start_b, _, who_b in spans[i + 1 :] if who_b != who_a and start_b < end_a
                ]
        return found
