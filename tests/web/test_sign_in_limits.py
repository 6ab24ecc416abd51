"""Failed sign-ins are slowed down, and the app says for how long. A stack of its own: the
server remembers failures per address, and every browser here comes from 127.0.0.1."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.web.conftest import PHONE, Stack, sign_in


def test_repeated_failures_are_slowed_down_with_the_wait_shown(
    browser: Browser, stack: Stack
) -> None:
    context = browser.new_context(base_url=stack.base, **PHONE)
    try:
        page = context.new_page()
        for _ in range(10):
            sign_in(page, password="guessing")
            alert = page.get_by_role("alert")
            expect(alert).to_be_visible()
            if re.search("too many", alert.inner_text(), re.I):
                break
        expect(page.get_by_role("alert")).to_contain_text(re.compile(r"too many", re.I))
        expect(page.get_by_role("alert")).to_contain_text(re.compile(r"\d"))  # the wait
        # The right password waits too, until the wait is over.
        sign_in(page)
        expect(page.get_by_role("alert")).to_contain_text(re.compile("too many", re.I))
        expect(page.get_by_role("heading", name="Cameras")).to_have_count(0)
    finally:
        context.close()
