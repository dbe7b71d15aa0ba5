-- GET /api/v1/images/status/{id} with the bearer token; load.sh exports NB_TOKEN and NB_ID.
local token = os.getenv("NB_TOKEN")
local id = os.getenv("NB_ID")
wrk.method = "GET"
wrk.path = "/api/v1/images/status/" .. id
wrk.headers["Authorization"] = "Bearer " .. token

