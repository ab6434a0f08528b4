"""HTTP routes: pages (HTML and htmx partials), review forms, sign-in, and the JSON API."""
