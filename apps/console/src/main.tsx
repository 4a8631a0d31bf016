import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createAdminClient } from "./admin-client";
import { AdminClientProvider, onQueryError } from "./admin-queries";
import { App } from "./app";
import { I18nProvider } from "./i18n/i18n";
import "./styles.css";

const queryClient: QueryClient = new QueryClient({
  queryCache: new QueryCache({ onError: (error, query) => onQueryError(queryClient, error, query.queryKey) }),
  defaultOptions: { queries: { refetchOnWindowFocus: true } },
});

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root");
createRoot(root).render(
  <StrictMode>
    <I18nProvider storage={window.localStorage}>
      <AdminClientProvider client={createAdminClient()}>
        <QueryClientProvider client={queryClient}>
          <App />
        </QueryClientProvider>
      </AdminClientProvider>
    </I18nProvider>
  </StrictMode>,
);
