import { ApolloProvider } from '@apollo/client/react';
import { QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createClients } from '../shared/clients.ts';
import { App } from './App.tsx';
import { startBrowserTelemetry } from './telemetry.ts';
import { TRPCProvider } from './trpc.ts';
import './styles.css';

const telemetry = startBrowserTelemetry();
const clients = createClients({ origin: window.location.origin });

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={clients.queryClient}>
      <TRPCProvider trpcClient={clients.trpcClient} queryClient={clients.queryClient}>
        <ApolloProvider client={clients.apollo}>
          <App clients={clients} telemetry={telemetry} />
        </ApolloProvider>
      </TRPCProvider>
    </QueryClientProvider>
  </StrictMode>,
);
