export function GroupsPage({ tenant }: { tenant: string }) {
  return <p>{tenant}</p>;
}
