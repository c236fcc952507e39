export default function HomePage() {
  return (
    <main>
      <h1>Nano Banana Studio</h1>
      <p>Generate and edit images with KIE&apos;s Nano Banana model (Gemini 2.5 Flash Image).</p>
      <p>
        The service is up: see <a href="/api/health">/api/health</a>.
      </p>
    </main>
  );
}
