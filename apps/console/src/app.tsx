import { Link, Route, Router, Switch, useLocation } from "wouter";
import { useSession, useSignOut } from "./admin-queries";
import { ErrorMessage } from "./components/error-message";
import { LanguageSwitch } from "./components/language-switch";
import { useI18n } from "./i18n/i18n";
import type { MessageKey } from "./i18n/messages-en";
import { AccountsPage } from "./pages/accounts-page";
import { GroupsPage } from "./pages/groups-page";
import { KeysPage } from "./pages/keys-page";
import { OverviewPage } from "./pages/overview-page";
import { PricesPage } from "./pages/prices-page";
import { SignInPage } from "./pages/sign-in-page";
import { UsagePage } from "./pages/usage-page";

/** Where the gateway serves the console. */
export const CONSOLE_BASE = "/console";

const navigation: ReadonlyArray<{ href: string; label: MessageKey }> = [
  { href: "/", label: "nav.overview" },
  { href: "/accounts", label: "nav.accounts" },
  { href: "/groups", label: "nav.groups" },
  { href: "/keys", label: "nav.keys" },
  { href: "/usage", label: "nav.usage" },
  { href: "/prices", label: "nav.prices" },
];

export function App() {
  return (
    <Router base={CONSOLE_BASE}>
      <Shell />
    </Router>
  );
}

function Shell() {
  const { t } = useI18n();
  const session = useSession();
  if (session.isPending) {
    return (
      <main className="centered">
        <p>{t("common.loading")}</p>
      </main>
    );
  }
  if (session.isError) {
    return (
      <main className="centered">
        <ErrorMessage error={session.error} />
      </main>
    );
  }
  if (!session.data) return <SignInPage />;
  return (
    <div className="layout">
      <Header />
      <main className="content">
        <Switch>
          <Route path="/" component={OverviewPage} />
          <Route path="/accounts" component={AccountsPage} />
          <Route path="/groups" component={GroupsPage} />
          <Route path="/keys" component={KeysPage} />
          <Route path="/usage" component={UsagePage} />
          <Route path="/prices" component={PricesPage} />
          <Route>
            <h1>{t("common.notFound")}</h1>
            <p>
              <Link href="/">{t("nav.overview")}</Link>
            </p>
          </Route>
        </Switch>
      </main>
    </div>
  );
}

function Header() {
  const { t } = useI18n();
  const [location] = useLocation();
  const signOut = useSignOut();
  return (
    <header className="header">
      <span className="brand">subrelay</span>
      <nav aria-label={t("nav.label")}>
        <ul className="nav-list">
          {navigation.map((item) => {
            const current = item.href === "/" ? location === "/" : location.startsWith(item.href);
            return (
              <li key={item.href}>
                <Link
                  href={item.href}
                  className={current ? "nav-link current" : "nav-link"}
                  aria-current={current ? "page" : undefined}
                >
                  {t(item.label)}
                </Link>
              </li>
            );
          })}
        </ul>
      </nav>
      <div className="header-tools">
        <LanguageSwitch />
        <button type="button" onClick={() => signOut.mutate()} disabled={signOut.isPending}>
          {t("auth.signOut")}
        </button>
      </div>
    </header>
  );
}
