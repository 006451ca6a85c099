/** Server-rendered pages of the demo app. Every value is escaped. */

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, instance: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1f2328}
.served{display:inline-block;background:#ddf4ff;border-radius:1rem;padding:.1rem .8rem;font-size:.9rem}
form{margin:.8rem 0}input,button{font:inherit;padding:.3rem .6rem}
.error{color:#cf222e}ul{padding-left:1.2rem}
.cache.hit strong{color:#1a7f37}.cache.miss strong{color:#9a6700}
</style></head><body>
<p class="served">served by <strong id="instance">${escapeHtml(instance)}</strong></p>
${body}
</body></html>`;
}

export function loginPage(instance: string, csrfToken: string, error?: string): string {
  return layout(
    "Log in — redis-ha-session demo",
    instance,
    `<h1>Log in</h1>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ""}
<form method="post" action="/login">
  <input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}">
  <label>User <input name="username" autocomplete="username" required></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
  <button type="submit">Log in</button>
</form>
<p>Demo users: alice, bob, carol, dave; the password is <code>&lt;name&gt;-demo-password</code>.</p>`,
  );
}

export function homePage(
  instance: string,
  csrfToken: string,
  { user, visits, cart }: { user: string; visits: number; cart: string[] },
): string {
  const items = cart.map((item) => `<li>${escapeHtml(item)}</li>`).join("");
  const token = `<input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}">`;
  return layout(
    "Your cart — redis-ha-session demo",
    instance,
    `<h1>Hello, <span id="user">${escapeHtml(user)}</span></h1>
<p>Visits this session: <strong id="visits">${visits}</strong></p>
<h2>Cart (<span id="cart-count">${cart.length}</span>)</h2>
<ul id="cart">${items}</ul>
<form method="post" action="/cart">${token}
  <label>Item <input name="item" required maxlength="60"></label> <button type="submit">Add</button>
</form>
<p><a href="/products/1">Browse the products</a> (read through the cache)</p>
<form method="post" action="/logout">${token}<button type="submit">Log out</button></form>
<form method="post" action="/logout-all">${token}<button type="submit">Log out everywhere</button></form>`,
  );
}

export function productPage(
  instance: string,
  csrfToken: string | undefined,
  {
    product,
    cache,
    ms,
  }: {
    product: { id: number; name: string; priceCents: number; stock: number; updatedAt: string };
    cache: "hit" | "miss" | "stale";
    ms: number;
  },
): string {
  const price = (product.priceCents / 100).toFixed(2);
  const edit =
    csrfToken === undefined
      ? `<p><a href="/login">Log in</a> to change the price.</p>`
      : `<form method="post" action="/products/${product.id}">
  <input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}">
  <label>Price (cents) <input name="priceCents" type="number" min="0" required value="${product.priceCents}"></label>
  <button type="submit">Save (write-through)</button>
</form>`;
  const from =
    cache === "hit"
      ? "the cache"
      : cache === "stale"
        ? "the cache, expired (answered as it was while one refresh reads PostgreSQL for every instance)"
        : "PostgreSQL (a miss: this request loaded it, and the cache now holds it)";
  return layout(
    `${product.name} — redis-ha-session demo`,
    instance,
    `<p><a href="/">Your cart</a> · <a href="/products/${Math.max(1, product.id - 1)}">previous</a>
· <a href="/products/${product.id + 1}">next</a></p>
<h1 id="product-name">${escapeHtml(product.name)}</h1>
<p>Price: <strong id="price">${price}</strong> · in stock: <span id="stock">${product.stock}</span></p>
<p class="cache ${cache}">Cache: <strong id="cache">${cache}</strong> — read from ${from} in
<span id="ms">${ms}</span> ms</p>
<p><small>Last changed ${escapeHtml(product.updatedAt)}</small></p>
${edit}`,
  );
}
