import { createContext, createElement, useContext, type ReactNode } from "react";
import { useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { AdminApiError } from "./admin-api-error";
import type { AdminClient, UsageSeriesQuery } from "./admin-client";
import type {
  AccountInput,
  AccountPatch,
  ApiKeyInput,
  ApiKeyPatch,
  GroupInput,
  GroupPatch,
  Session,
  TokenPrices,
  UsageGroupBy,
} from "./admin-types";

/** How often the pool's data is re-read (ms): the "polling every 5 s at most". */
export const POOL_REFRESH_MS = 2_000;

const AdminClientContext = createContext<AdminClient | null>(null);

export function AdminClientProvider({ client, children }: { client: AdminClient; children: ReactNode }) {
  return createElement(AdminClientContext.Provider, { value: client }, children);
}

export function useAdminClient(): AdminClient {
  const client = useContext(AdminClientContext);
  if (!client) throw new Error("useAdminClient outside AdminClientProvider");
  return client;
}

export const queryKeys = {
  session: ["session"] as const,
  accounts: ["accounts"] as const,
  groups: ["groups"] as const,
  apiKeys: ["api-keys"] as const,
  usage: ["usage"] as const,
  usageSeries: ["usage-series"] as const,
  pricing: ["pricing"] as const,
};

/**
 * Called by the query cache on every failed query: a 401 means the session ended (expired, signed out in
 * another tab), so the console goes back to the sign-in page.
 */
export function onQueryError(queryClient: QueryClient, error: unknown, queryKey: readonly unknown[]): void {
  if (AdminApiError.isInstance(error) && error.status === 401 && queryKey[0] !== queryKeys.session[0]) {
    queryClient.setQueryData<Session | null>(queryKeys.session, null);
  }
}

/** The session: its expiry, or null when signed out (401). */
export function useSession() {
  const client = useAdminClient();
  return useQuery({
    queryKey: queryKeys.session,
    queryFn: async () => {
      try {
        return await client.getSession();
      } catch (error) {
        if (AdminApiError.isInstance(error) && error.status === 401) return null;
        throw error;
      }
    },
    retry: false,
    staleTime: Infinity,
  });
}

export function useSignIn() {
  const client = useAdminClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (token: string) => client.signIn(token),
    onSuccess: (session) => {
      queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== queryKeys.session[0] });
      queryClient.setQueryData(queryKeys.session, session);
    },
  });
}

export function useSignOut() {
  const client = useAdminClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: () => client.signOut(),
    onSettled: () => {
      queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== queryKeys.session[0] });
      queryClient.setQueryData(queryKeys.session, null);
    },
  });
}

const live = { refetchInterval: POOL_REFRESH_MS, retry: 1 } as const;

export function useAccounts() {
  const client = useAdminClient();
  return useQuery({ queryKey: queryKeys.accounts, queryFn: () => client.listAccounts(), ...live });
}

export function useGroups() {
  const client = useAdminClient();
  return useQuery({ queryKey: queryKeys.groups, queryFn: () => client.listGroups(), ...live });
}

export function useApiKeys() {
  const client = useAdminClient();
  return useQuery({ queryKey: queryKeys.apiKeys, queryFn: () => client.listApiKeys(), ...live });
}

/** Totals by account, key or model since `from` (epoch ms) up to the time of each fetch. */
export function useUsageTotals(from: number, groupBy: UsageGroupBy, options: { enabled?: boolean } = {}) {
  const client = useAdminClient();
  return useQuery({
    queryKey: [...queryKeys.usage, from, groupBy],
    queryFn: () => client.usage({ from, to: Date.now(), groupBy }),
    enabled: options.enabled ?? true,
    ...live,
  });
}

/** Prices change by hand: re-read every 30 s (and at once after this console's own changes). */
export function usePricing() {
  const client = useAdminClient();
  return useQuery({ queryKey: queryKeys.pricing, queryFn: () => client.listPrices(), refetchInterval: 30_000, retry: 1 });
}

/**
 * A usage series. `range` is read at each fetch, so a range relative to now ("last hour") moves along
 * with the polls; `key` names it in the cache.
 */
export function useUsageSeries(
  key: readonly unknown[],
  range: () => UsageSeriesQuery,
  options: { live: boolean },
) {
  const client = useAdminClient();
  return useQuery({
    queryKey: [...queryKeys.usageSeries, ...key],
    queryFn: () => client.usageSeries(range()),
    placeholderData: (previous) => previous,
    ...(options.live ? live : { retry: 1 }),
  });
}

function useInvalidating<Variables, Result>(
  mutationFn: (variables: Variables) => Promise<Result>,
  keys: ReadonlyArray<readonly string[]>,
) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn,
    onSuccess: () => Promise.all(keys.map((queryKey) => queryClient.invalidateQueries({ queryKey }))),
  });
}

export function useCreateGroup() {
  const client = useAdminClient();
  return useInvalidating((input: GroupInput) => client.createGroup(input), [queryKeys.groups]);
}

export function useUpdateGroup() {
  const client = useAdminClient();
  return useInvalidating(
    ({ id, patch }: { id: number; patch: GroupPatch }) => client.updateGroup(id, patch),
    [queryKeys.groups, queryKeys.apiKeys],
  );
}

export function useDeleteGroup() {
  const client = useAdminClient();
  return useInvalidating((id: number) => client.deleteGroup(id), [queryKeys.groups, queryKeys.accounts]);
}

export function useCreateAccount() {
  const client = useAdminClient();
  return useInvalidating(
    (input: AccountInput) => client.createAccount(input),
    [queryKeys.accounts, queryKeys.groups],
  );
}

export function useUpdateAccount() {
  const client = useAdminClient();
  return useInvalidating(
    ({ id, patch }: { id: string; patch: AccountPatch }) => client.updateAccount(id, patch),
    [queryKeys.accounts, queryKeys.groups],
  );
}

export function useDeleteAccount() {
  const client = useAdminClient();
  return useInvalidating((id: string) => client.deleteAccount(id), [queryKeys.accounts, queryKeys.groups]);
}

export function useResetAccount() {
  const client = useAdminClient();
  return useInvalidating((id: string) => client.resetAccount(id), [queryKeys.accounts]);
}

export function useCreateApiKey() {
  const client = useAdminClient();
  return useInvalidating((input: ApiKeyInput) => client.createApiKey(input), [queryKeys.apiKeys]);
}

export function useUpdateApiKey() {
  const client = useAdminClient();
  return useInvalidating(
    ({ id, patch }: { id: number; patch: ApiKeyPatch }) => client.updateApiKey(id, patch),
    [queryKeys.apiKeys],
  );
}

export function useSetPrice() {
  const client = useAdminClient();
  return useInvalidating(
    ({ model, prices }: { model: string; prices: TokenPrices }) => client.setPrice(model, prices),
    [queryKeys.pricing],
  );
}

export function useDeletePrice() {
  const client = useAdminClient();
  return useInvalidating((model: string) => client.deletePrice(model), [queryKeys.pricing]);
}

export function useDeleteApiKey() {
  const client = useAdminClient();
  return useInvalidating((id: number) => client.deleteApiKey(id), [queryKeys.apiKeys]);
}
