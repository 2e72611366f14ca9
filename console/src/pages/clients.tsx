export function ClientsPage({ tenant }: { tenant: string }) {
  return <p>{tenant}</p>;
}
