/** Names and places for synthetic people and facilities (ASCII only; all fictional combinations). */

export const MALE_NAMES: readonly string[] = [
  'James', 'Robert', 'John', 'Michael', 'David', 'William', 'Richard', 'Joseph', 'Thomas', 'Charles',
  'Christopher', 'Daniel', 'Matthew', 'Anthony', 'Mark', 'Donald', 'Steven', 'Paul', 'Andrew', 'Joshua',
  'Kenneth', 'Kevin', 'Brian', 'George', 'Timothy', 'Ronald', 'Jason', 'Edward', 'Jeffrey', 'Ryan',
  'Jacob', 'Gary', 'Nicholas', 'Eric', 'Jonathan', 'Stephen', 'Larry', 'Justin', 'Scott', 'Brandon',
  'Carlos', 'Luis', 'Jose', 'Miguel', 'Wei', 'Minh', 'Ahmed', 'Omar', 'Samuel', 'Elijah',
];
export const FEMALE_NAMES: readonly string[] = [
  'Mary', 'Patricia', 'Jennifer', 'Linda', 'Elizabeth', 'Barbara', 'Susan', 'Jessica', 'Sarah', 'Karen',
  'Lisa', 'Nancy', 'Betty', 'Margaret', 'Sandra', 'Ashley', 'Kimberly', 'Emily', 'Donna', 'Michelle',
  'Carol', 'Amanda', 'Dorothy', 'Melissa', 'Deborah', 'Stephanie', 'Rebecca', 'Sharon', 'Laura', 'Cynthia',
  'Kathleen', 'Amy', 'Angela', 'Shirley', 'Anna', 'Brenda', 'Pamela', 'Emma', 'Nicole', 'Helen',
  'Maria', 'Sofia', 'Lucia', 'Camila', 'Mei', 'Lan', 'Fatima', 'Aisha', 'Grace', 'Olivia',
];
export const FAMILY_NAMES: readonly string[] = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez',
  'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin',
  'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark', 'Ramirez', 'Lewis', 'Robinson',
  'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott', 'Torres', 'Nguyen', 'Hill', 'Flores',
  'Green', 'Adams', 'Nelson', 'Baker', 'Hall', 'Rivera', 'Campbell', 'Mitchell', 'Carter', 'Roberts',
  'Gomez', 'Phillips', 'Evans', 'Turner', 'Diaz', 'Parker', 'Cruz', 'Edwards', 'Collins', 'Reyes',
  'Stewart', 'Morris', 'Morales', 'Murphy', 'Cook', 'Rogers', 'Gutierrez', 'Ortiz', 'Morgan', 'Cooper',
  'Peterson', 'Bailey', 'Reed', 'Kelly', 'Howard', 'Ramos', 'Kim', 'Cox', 'Ward', 'Richardson',
  'Chen', 'Wang', 'Tran', 'Patel', 'Shah', 'Okafor', 'Novak', 'Kowalski', 'Schmidt', 'Larsen',
];
export const STREET_NAMES: readonly string[] = [
  'Main', 'Oak', 'Pine', 'Maple', 'Cedar', 'Elm', 'Washington', 'Lake', 'Hill', 'Park',
  'Walnut', 'Spring', 'North', 'Ridge', 'Church', 'Willow', 'Mill', 'Sunset', 'Railroad', 'Jackson',
  'Highland', 'Forest', 'River', 'Meadow', 'Chestnut', 'Franklin', 'Lincoln', 'Madison', 'Cherry', 'Birch',
];
export const STREET_SUFFIXES: readonly string[] = ['Street', 'Avenue', 'Road', 'Lane', 'Drive', 'Court', 'Way', 'Boulevard'];

export interface City {
  city: string;
  state: string;
  /** First three digits of its ZIP codes. */
  zip: string;
  areaCode: string;
  latitude: number;
  longitude: number;
}
const city = (c: string, state: string, zip: string, areaCode: string, latitude: number, longitude: number): City => ({
  city: c,
  state,
  zip,
  areaCode,
  latitude,
  longitude,
});
export const CITIES: readonly City[] = [
  city('Springfield', 'MA', '011', '413', 42.1015, -72.5898),
  city('Worcester', 'MA', '016', '508', 42.2626, -71.8023),
  city('Burlington', 'VT', '054', '802', 44.4759, -73.2121),
  city('Albany', 'NY', '122', '518', 42.6526, -73.7562),
  city('Harrisburg', 'PA', '171', '717', 40.2732, -76.8867),
  city('Richmond', 'VA', '232', '804', 37.5407, -77.436),
  city('Raleigh', 'NC', '276', '919', 35.7796, -78.6382),
  city('Columbia', 'SC', '292', '803', 34.0007, -81.0348),
  city('Savannah', 'GA', '314', '912', 32.0809, -81.0912),
  city('Tallahassee', 'FL', '323', '850', 30.4383, -84.2807),
  city('Nashville', 'TN', '372', '615', 36.1627, -86.7816),
  city('Columbus', 'OH', '432', '614', 39.9612, -82.9988),
  city('Madison', 'WI', '537', '608', 43.0731, -89.4012),
  city('Des Moines', 'IA', '503', '515', 41.5868, -93.625),
  city('Kansas City', 'MO', '641', '816', 39.0997, -94.5786),
  city('Omaha', 'NE', '681', '402', 41.2565, -95.9345),
  city('Austin', 'TX', '787', '512', 30.2672, -97.7431),
  city('Tulsa', 'OK', '741', '918', 36.154, -95.9928),
  city('Denver', 'CO', '802', '303', 39.7392, -104.9903),
  city('Albuquerque', 'NM', '871', '505', 35.0844, -106.6504),
  city('Boise', 'ID', '837', '208', 43.615, -116.2023),
  city('Sacramento', 'CA', '958', '916', 38.5816, -121.4944),
  city('Salem', 'OR', '973', '503', 44.9429, -123.0351),
  city('Spokane', 'WA', '992', '509', 47.6588, -117.426),
];
export const FACILITY_SUFFIXES: readonly string[] = [
  'Family Medicine',
  'Community Health Center',
  'Medical Group',
  'Primary Care Associates',
  'Health Partners',
  'Internal Medicine Clinic',
];
export const PAYERS: readonly { name: string; kind: 'medicare' | 'medicaid' | 'private' }[] = [
  { name: 'Medicare', kind: 'medicare' },
  { name: 'Medicaid', kind: 'medicaid' },
  { name: 'Blue Harbor Health Plan', kind: 'private' },
  { name: 'Summit Mutual Insurance', kind: 'private' },
  { name: 'Cascade Health Alliance', kind: 'private' },
  { name: 'Prairie State Benefits', kind: 'private' },
];
