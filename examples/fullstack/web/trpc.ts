import { createTRPCContext } from '@trpc/tanstack-react-query';
import type { AppRouter } from '../server/trpc.ts';

/** tRPC's TanStack React Query integration: `useTRPC()` gives `trpc.todo.list.queryOptions()` and friends. */
export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();
