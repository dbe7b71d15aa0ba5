-- POST /api/v1/images/generate (durable create) with the bearer token; load.sh exports
-- NB_TOKEN. Every request queues a real generation row and job row.
wrk.method = "POST"
wrk.path = "/api/v1/images/generate"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("NB_TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"prompt":"a lighthouse at dusk, load test","resolution":"1K","aspect_ratio":"16:9","generation_mode":"text-to-image"}'
