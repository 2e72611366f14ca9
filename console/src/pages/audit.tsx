export function AuditPage({ tenant }: { tenant: string }) {
  return <p>{tenant}</p>;
}
