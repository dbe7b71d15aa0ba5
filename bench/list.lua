-- GET /api/v1/images/list?limit=20 with the bearer token; load.sh exports NB_TOKEN.
wrk.method = "GET"
wrk.path = "/api/v1/images/list?limit=20"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("NB_TOKEN")
