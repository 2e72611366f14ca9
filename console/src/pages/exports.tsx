export function ExportsPage({ tenant }: { tenant: string }) {
  return <p>{tenant}</p>;
}
