/** The dashboard shell: header navigation, theme, and the routed page. */
import { render } from 'preact';
import { useState } from 'preact/hooks';
import './styles.css';
import { captureToken } from './api.js';
import { onLinkClick, parseRoute, useLocation } from './router.js';
import { filtersFrom } from './components/FilterBar.js';
import { Overview } from './pages/Overview.js';
import { ViolationPage } from './pages/Violation.js';
import { PoliciesPage } from './pages/Policies.js';
import { SourcesPage } from './pages/Sources.js';

type Theme = 'light' | 'dark';
const THEME_KEY = 'kyverno-runtime.theme';

function initialTheme(): Theme {
  const saved = localStorage.getItem(THEME_KEY);
  if (saved === 'light' || saved === 'dark') return saved;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function App() {
  const loc = useLocation();
  const route = parseRoute(loc.pathname);
  const [theme, setTheme] = useState<Theme>(initialTheme);
  // Set before children render: the chart reads the theme's CSS variables when it is (re)built.
  document.documentElement.dataset.theme = theme;
  const toggle = (): void => {
    const next = theme === 'dark' ? 'light' : 'dark';
    localStorage.setItem(THEME_KEY, next);
    setTheme(next);
  };
  const nav = (href: string, label: string, active: boolean) => (
    <a href={href} aria-current={active ? 'page' : undefined}>
      {label}
    </a>
  );
  let page;
  switch (route.page) {
    case 'overview':
      page = <Overview filters={filtersFrom(loc.search)} theme={theme} />;
      break;
    case 'violation':
      page = <ViolationPage id={route.id} />;
      break;
    case 'policies':
      page = <PoliciesPage />;
      break;
    case 'sources':
      page = <SourcesPage />;
      break;
    case 'not-found':
      page = (
        <p class="muted">
          Nothing here. <a href="/">Go to the overview.</a>
        </p>
      );
      break;
  }
  return (
    <div onClick={onLinkClick}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/">
          <span class="logo" aria-hidden="true">
            ◆
          </span>{' '}
          kyverno-runtime
        </a>
        <nav aria-label="Main">
          {nav('/', 'Overview', route.page === 'overview' || route.page === 'violation')}
          {nav('/policies', 'Policies', route.page === 'policies')}
          {nav('/sources', 'Sources', route.page === 'sources')}
        </nav>
        <button
          type="button"
          class="theme"
          onClick={toggle}
          aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}
        >
          {theme === 'dark' ? '☀' : '☾'}
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </div>
  );
}

captureToken();
render(<App />, document.getElementById('app')!);
