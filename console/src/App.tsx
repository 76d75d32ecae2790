import { Layout, Page } from "./components/Layout";
import { navigate, useRoute, useSession } from "./hooks";
import { canOpen, NAV } from "./nav";
import { ExperimentDetail } from "./pages/ExperimentDetail";
import { Experiments } from "./pages/Experiments";
import { Funnels } from "./pages/Funnels";
import { Login } from "./pages/Login";
import { Notifications } from "./pages/Notifications";
import { Onboarding } from "./pages/Onboarding";
import { Overview } from "./pages/Overview";
import { Referrals } from "./pages/Referrals";
import { Retention } from "./pages/Retention";
import { Rewards } from "./pages/Rewards";
import { ApiKeys } from "./pages/ApiKeys";
import { Webhooks } from "./pages/Webhooks";
import { UserProfile } from "./pages/UserProfile";
import { Users } from "./pages/Users";

export function App() {
  const session = useSession();
  const { parts, query } = useRoute();
  if (!session) return <Login />;
  const role = session.user.role;
  const [section = "", id] = parts;
  if (!section) {
    navigate(NAV.find((n) => n.roles.includes(role))!.path);
    return null;
  }
  return (
    <Layout session={session} current={section}>
      {!NAV.some((n) => n.path === section) ? (
        <Page title="Not found">
          <p>There is no such page. Pick one from the menu.</p>
        </Page>
      ) : !canOpen(section, role) ? (
        <Page title="Not for your role">
          <p role="alert">This page is for admins. Your role ({role}) cannot open it.</p>
        </Page>
      ) : (
        route(section, id, query, role)
      )}
    </Layout>
  );
}

function route(section: string, id: string | undefined, query: URLSearchParams, role: string) {
  switch (section) {
    case "overview":
      return <Overview />;
    case "onboarding":
      return <Onboarding isAdmin={role === "admin"} />;
    case "retention":
      return <Retention />;
    case "funnels":
      return <Funnels />;
    case "referrals":
      return <Referrals isAdmin={role === "admin"} treeUser={query.get("user") ?? undefined} />;
    case "experiments":
      return id ? <ExperimentDetail id={id} /> : <Experiments />;
    case "rewards":
      return <Rewards />;
    case "users":
      return id ? <UserProfile id={id} /> : <Users />;
    case "notifications":
      return <Notifications to={query.get("to") ?? undefined} />;
    case "api-keys":
      return <ApiKeys />;
    case "webhooks":
      return <Webhooks />;
  }
  return null;
}
