"""The pages and their assets, without a browser: everything they load comes from this server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

WEB = Path(__file__).resolve().parent.parent / "web"
PAGES = {"/": "text/html", "/graphql": "text/html"}


def _references(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"#]+)"', html)


@pytest.mark.parametrize("path", PAGES)
async def test_a_page_loads_only_this_servers_files(http: Any, path: str) -> None:
    response = await http.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    refs = [r for r in _references(response.text) if not r.startswith("data:")]
    assert refs, "the page loads nothing?"
    for ref in refs:
        assert ref.startswith("/"), f"{path} loads {ref} from elsewhere"
        if ref.startswith("/assets/"):
            asset = await http.get(ref)
            assert asset.status_code == 200, ref


async def test_graphiql_is_ours_not_strawberrys_cdn_page(http: Any) -> None:
    html = (await http.get("/graphql", headers={"Accept": "text/html"})).text
    assert "unpkg.com" not in html and 'name="apiKey"' in html


async def test_every_module_import_resolves(http: Any) -> None:
    """The dashboard's ES modules import each other by relative path: a typo would be a blank page."""
    for module in sorted((WEB / "static" / "js").glob("*.js")):
        source = module.read_text()
        for imported in re.findall(r'^import .* from "(\.[^"]+)";$', source, flags=re.MULTILINE):
            assert (module.parent / imported).resolve().exists(), f"{module.name} imports {imported}"
        served = await http.get(f"/assets/js/{module.name}")
        assert served.status_code == 200 and "javascript" in served.headers["content-type"]


async def test_no_asset_outside_web_static_is_served(http: Any) -> None:
    for path in ("/assets/../server.py", "/assets/%2e%2e/server.py", "/assets/graphiql-build/package.json"):
        assert (await http.get(path)).status_code == 404, path
